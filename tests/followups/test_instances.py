"""Two Tamas instances on one database: every reminder and every due callback pops exactly
once (one pop row, one message per panel, whichever instance claimed it), including those
that fell due while no instance was running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Callback, PopEvent, Role, Task, User
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import Agent, eventually, serving


def reminders(agent: Agent) -> dict[int, int]:
    """seq -> task id of the reminders a panel got (a message seen both in the catch-up and
    live has one seq, and the panel keeps it once)."""
    return {m["seq"]: m["task_id"] for m in agent.messages if m["type"] == "reminder"}


def callbacks_due(agent: Agent) -> dict[int, int]:
    return {m["seq"]: m["callback_id"] for m in agent.messages if m["type"] == "callback_due"}


async def test_each_reminder_pops_once_across_two_instances(
    scratch_db: Database, settings: Settings
) -> None:
    assert scratch_db.sessionmaker is not None and scratch_db.settings.database_url is not None
    maker = scratch_db.sessionmaker
    async with unit_of_work(maker) as session:
        sara = await make_user(session, Role.agent)
        token = await make_token(session, settings, sara)
        # Fell due while no Tamas was running.
        past = datetime.now(UTC) - timedelta(hours=2)
        for n in range(5):
            session.add(Task(title=f"while down {n}", assignee_user_id=sara.id, due_at=past,
                             remind_at=past, done_note=""))  # fmt: skip
        for n in range(3):
            session.add(Callback(pbx="", number=f"+98912000000{n}", e164=f"+98912000000{n}",
                                 first_call_at=past, last_call_at=past, due_at=past,
                                 assigned_user_id=sara.id, source="manual"))  # fmt: skip
    conf = settings.model_copy(
        update={"database_url": scratch_db.settings.database_url, "followups_tick_seconds": 0.05}
    )
    agents: list[Agent] = []
    try:
        async with serving(conf) as (port_a, app_a), serving(conf) as (port_b, app_b):
            # The same agent on both instances (two tabs), from the first pop on.
            for port in (port_a, port_b):
                agent = Agent(port, token)
                await agent.connect(last_seq=0)
                agents.append(agent)
            now = datetime.now(UTC)
            async with unit_of_work(maker) as session:
                for n in range(40):
                    session.add(Task(title=f"now {n}", assignee_user_id=sara.id, due_at=now,
                                     remind_at=now, done_note=""))  # fmt: skip
            async with unit_of_work(maker) as session:
                ids = set((await session.execute(select(Task.id))).scalars())
            assert len(ids) == 45

            async def everyone_has_all() -> bool:
                return all(
                    set(reminders(a).values()) == ids and len(callbacks_due(a)) == 3 for a in agents
                )

            await eventually(everyone_has_all)
            fired: list[Any] = [app_a.state.followups.fired, app_b.state.followups.fired]
        async with unit_of_work(maker) as session:
            pops = (await session.execute(
                select(PopEvent.linkedid).where(PopEvent.kind == "reminder")
            )).scalars().all()  # fmt: skip
            callback_pops = (await session.execute(
                select(PopEvent.linkedid).where(PopEvent.kind == "callback_due")
            )).scalars().all()  # fmt: skip
            reminded = (await session.execute(
                select(Task.reminded_at).where(Task.reminded_at.is_(None))
            )).all()  # fmt: skip
        # One pop row per reminder, each panel one message per reminder.
        assert sorted(pops) == sorted(f"task-{i}" for i in ids)
        for agent in agents:
            assert sorted(reminders(agent).values()) == sorted(ids)
            assert sorted(callbacks_due(agent).values()) == sorted(
                set(callbacks_due(agent).values())
            )
        assert len(callback_pops) == len(set(callback_pops)) == 3
        assert sum(fired) == 48 and reminded == []
    finally:
        for agent in agents:
            await agent.close()
        async with unit_of_work(maker) as session:
            await session.execute(delete(PopEvent))
            await session.execute(delete(Task))
            await session.execute(delete(Callback))
            await session.execute(delete(User))
