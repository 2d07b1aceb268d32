"""One definition of each KPI figure (app/reports/definitions.py), checked against counts made
by hand on a small made-up day: every grouping agrees with the others and with the total, an
agent's ring-no-answer is counted, and offered = answered + short abandoned + abandoned +
missed in every row."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, CallLeg, Role, User
from tests.fixtures.factories import make_token, make_user

_ids = itertools.count(1)
# 2026-11-22 in Tehran (UTC+3:30) starts at 2026-11-21T20:30Z.
TEN = datetime(2026, 11, 21, 20, 30, tzinfo=UTC) + timedelta(hours=10)
ELEVEN = TEN + timedelta(hours=1)
FIGURES = ("offered", "answered", "short_abandoned", "abandoned", "missed")


async def day(session: AsyncSession) -> tuple[User, User, User]:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    boss = await make_user(session, Role.supervisor)

    async def call(at: datetime, rang: tuple[User, ...] = (), **fields: Any) -> None:
        n = next(_ids)
        values: dict[str, Any] = {
            "pbx": "defs",
            "linkedid": f"defs.{n}",
            "direction": "inbound",
            "outcome": "answered",
            "queue": "support",
            "started_at": at,
            "ended_at": at + timedelta(minutes=2),
        }
        values.update(fields)
        row = Call(**values)
        session.add(row)
        await session.flush()
        for i, user in enumerate(rang):
            session.add(
                CallLeg(
                    call_id=row.id,
                    pbx="defs",
                    uniqueid=f"defs.{n}.{i}",
                    channel=f"PJSIP/{1001 + i}-{n:08x}",
                    device=f"PJSIP/{1001 + i}",
                    internal=True,
                    user_id=user.id,
                    created_at=at,
                )
            )
        await session.flush()

    # 1. support: rang Sara, she answered after 10 s.
    await call(TEN, (sara,), answered_by_user_id=sara.id, wait_seconds=10, talk_seconds=100)
    # 2. support: rang Sara (she did not answer), then Reza, who answered after 30 s.
    await call(TEN, (sara, reza), answered_by_user_id=reza.id, wait_seconds=30, talk_seconds=60)
    # 3. support: rang Sara; the caller gave up after 40 s.
    await call(TEN, (sara,), outcome="abandoned", wait_seconds=40)
    # 4. sales: rang Reza until the queue's timeout (60 s).
    await call(TEN, (reza,), queue="sales", outcome="missed", wait_seconds=60)
    # 5. direct (no queue): rang Sara, answered after 3 s.
    await call(ELEVEN, (sara,), queue="", answered_by_user_id=sara.id, wait_seconds=3)
    # 6. direct: the caller hung up within 2 s (a short abandon).
    await call(ELEVEN, queue="", outcome="abandoned", wait_seconds=2)
    # 7. Sara called a customer; 8. Sara called Reza: neither is offered.
    await call(
        ELEVEN,
        (sara,),
        direction="outbound",
        queue="",
        answered_by_user_id=sara.id,
        talk_seconds=50,
    )
    await call(ELEVEN, (sara, reza), direction="internal", queue="", answered_by_user_id=reza.id)
    # Not in the day: a live call, and one the next day.
    await call(TEN, (sara,), outcome="live")
    await call(TEN + timedelta(days=1), (sara,), answered_by_user_id=sara.id)
    return sara, reza, boss


async def report(client: httpx.AsyncClient, by: str, token: str) -> dict[str, Any]:
    r = await client.get(
        f"/api/reports/kpi?from=1405-09-01&to=1405-09-01&by={by}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pick(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


async def test_every_grouping_counts_the_same_calls_the_same_way(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara, reza, boss = await day(session)
    boss_token = await make_token(session, settings, boss)

    by_queue = await report(client, "queue", boss_token)
    queues = {row["key"]: row for row in by_queue["rows"]}
    assert set(queues) == {"support", "sales", ""}
    assert pick(queues["support"], *FIGURES) == (3, 2, 0, 1, 0)
    assert queues["support"]["service_level_pct"] == 33.3  # 10 s of 10, 30, 40
    assert queues["support"]["asa_seconds"] == 20.0
    assert queues["support"]["longest_wait_seconds"] == 40.0
    assert pick(queues["sales"], *FIGURES) == (1, 0, 0, 0, 1)
    assert queues["sales"]["service_level_pct"] == 0.0
    assert pick(queues[""], *FIGURES) == (2, 1, 1, 0, 0)
    assert queues[""]["service_level_pct"] == 100.0  # the short abandon is not in the base
    assert queues[""]["outbound"] == 1

    total = by_queue["total"]
    assert pick(total, *FIGURES) == (6, 3, 1, 1, 1)
    assert total["service_level_pct"] == 40.0  # 10 s and 3 s, of 6 - 1
    assert total["outbound"] == 1 and total["outbound_answered"] == 1
    assert total["talk_total_seconds"] == 100 + 60 + 50 + 0  # the internal call had none

    # The hours and the days (the charts) count the same calls as the queues.
    hours = {row["key"]: row for row in (await report(client, "hour", boss_token))["rows"]}
    assert {k: r["offered"] for k, r in hours.items()} == {
        "2026-11-22 10:00": 4,
        "2026-11-22 11:00": 2,
    }
    days = await report(client, "day", boss_token)
    [only] = days["rows"]
    assert pick(only, *FIGURES) == pick(total, *FIGURES)
    assert days["total"] == total
    for figure in FIGURES:
        assert sum(r[figure] for r in queues.values()) == total[figure]
        assert sum(r[figure] for r in hours.values()) == total[figure]

    # Agents: every call that rang them, their ring-no-answer as missed.
    by_agent = await report(client, "agent", boss_token)
    agents = {row["key"]: row for row in by_agent["rows"]}
    assert pick(agents[sara.id], *FIGURES) == (4, 2, 0, 1, 1)
    assert agents[sara.id]["service_level_pct"] == 50.0
    assert agents[sara.id]["outbound"] == 1
    assert agents[sara.id]["talk_total_seconds"] == 100 + 0 + 50
    assert pick(agents[reza.id], *FIGURES) == (2, 1, 0, 0, 1)
    assert agents[reza.id]["service_level_pct"] == 0.0
    assert agents[reza.id]["asa_seconds"] == 30.0
    assert by_agent["total"] == total  # the team: each call once

    for row in [*queues.values(), *hours.values(), *agents.values(), total]:
        offered, *parts = pick(row, *FIGURES)
        assert offered == sum(parts), row

    # An agent's own report, by day, is their row of the team's report by agent.
    mine = await report(client, "day", await make_token(session, settings, sara))
    [row] = mine["rows"]
    assert pick(row, *FIGURES) == pick(agents[sara.id], *FIGURES)
    assert pick(mine["total"], *FIGURES) == pick(agents[sara.id], *FIGURES)
