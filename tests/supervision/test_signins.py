"""Sign-in to Tamas as activity intervals: a panel's websocket opens one, a reload keeps it,
one no instance has seen for the grace ends when it was last seen, an agent on two
instances has one, signing out ends it; the report's "signed in" equals a hand count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import AgentActivity, Role, User
from app.supervision.activity_service import ActivityService
from app.supervision.signin_service import SignInService
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import Agent, eventually, serving
from tests.supervision.test_activity import member

# Long enough that only the turns a test asks for happen after the one at start.
QUIET = {"signin_seen_seconds": 3600.0, "signin_grace_seconds": 7200.0}


def conf(settings: Settings, db: Database, **more: Any) -> Settings:
    assert db.settings.database_url is not None
    return settings.model_copy(update={"database_url": db.settings.database_url, **more})


async def agent_with_token(db: Database, settings: Settings, **kw: Any) -> tuple[User, str]:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        user = await make_user(session, Role.agent, **kw)
        return user, await make_token(session, settings, user)


async def signins(db: Database, user_id: int) -> list[AgentActivity]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        stmt = (
            select(AgentActivity)
            .where(AgentActivity.user_id == user_id)
            .order_by(AgentActivity.started_at, AgentActivity.id)
        )
        return list((await session.execute(stmt)).scalars())


async def gone(app: Any, user_id: int) -> None:
    """Until the instance has taken the user's last panel there as closed."""

    async def check() -> bool:
        return not app.state.hub.has(user_id) and user_id in app.state.signins.left

    await eventually(check)


@asynccontextmanager
async def panel(port: int, token: str) -> AsyncIterator[Agent]:
    agent = Agent(port, token)
    await agent.connect()
    try:
        yield agent
    finally:
        await agent.close()


async def test_a_panel_signs_in_and_a_reload_keeps_the_interval(
    db: Database, settings: Settings
) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    admin, admin_token = await agent_with_token(db, settings)  # no phone: not followed
    async with serving(conf(settings, db, **QUIET)) as (port, app):
        before = datetime.now(UTC)
        async with panel(port, token), panel(port, admin_token):
            rows = await signins(db, sara.id)
            # Written before the hello: there once the panel is told hello.
            assert [(r.pbx, r.interface, r.queue, r.state, r.ended_at) for r in rows] == [
                ("", f"user:{sara.id}", "", "signed_in", None)
            ]
            first = rows[0]
            assert first.seen_at == first.started_at and first.started_at >= before
        assert await signins(db, admin.id) == []
        # Closed: in memory until the instance's next turn, which marks when it closed.
        await gone(app, sara.id)
        assert app.state.signins.left.keys() == {sara.id}
        closed_at = app.state.signins.left[sara.id]
        await app.state.signins.turn()
        (row,) = await signins(db, sara.id)
        assert row.seen_at == closed_at and row.ended_at is None
        # A reload: the same interval goes on, seen again.
        async with panel(port, token):
            (again,) = await signins(db, sara.id)
            assert again.id == first.id and again.ended_at is None
            assert again.seen_at is not None and again.seen_at > closed_at


async def test_an_interval_nobody_has_seen_for_the_grace_ends_when_last_seen(
    db: Database, settings: Settings
) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    reza, reza_token = await agent_with_token(db, settings, devices=["PJSIP/7002"])
    async with serving(conf(settings, db, **QUIET)) as (port, app):
        turns = app.state.signins
        async with panel(port, reza_token):
            async with panel(port, token):
                pass
            await gone(app, sara.id)
            closed_at = turns.left[sara.id]
            await turns.turn()
            (row,) = await signins(db, sara.id)
            last_seen = row.seen_at
            assert last_seen == closed_at
            # Not yet: just within the grace.
            assert await turns.turn(now=last_seen + timedelta(seconds=7200)) == 0
            # Past it: ended when last seen, not at this turn; Reza's panel is open here, so
            # his interval goes on (this turn saw him).
            later = last_seen + timedelta(seconds=7201)
            assert await turns.turn(now=later) == 1
            (row,) = await signins(db, sara.id)
            assert row.ended_at == last_seen
            (his,) = await signins(db, reza.id)
            assert his.ended_at is None and his.seen_at == later
        # Sara comes back: a new interval, the old one stays as it ended.
        async with panel(port, token):
            old, new = await signins(db, sara.id)
            assert old.ended_at == last_seen and new.ended_at is None


async def test_the_instance_marks_open_panels_as_seen_on_its_own(
    db: Database, settings: Settings
) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    conf_ = conf(settings, db, signin_seen_seconds=0.05, signin_grace_seconds=3600.0)
    async with serving(conf_) as (port, _app), panel(port, token):
        (first,) = await signins(db, sara.id)

        async def seen_again() -> bool:
            rows = await signins(db, sara.id)
            return (
                len(rows) == 1 and rows[0].seen_at is not None and rows[0].seen_at > first.seen_at
            )

        await eventually(seen_again)
        (row,) = await signins(db, sara.id)
        assert row.id == first.id and row.ended_at is None


async def test_a_panel_closed_for_good_is_ended_by_the_turns_themselves(
    db: Database, settings: Settings
) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    conf_ = conf(settings, db, signin_seen_seconds=0.05, signin_grace_seconds=0.5)
    async with serving(conf_) as (port, _app):
        async with panel(port, token):
            closing_at = datetime.now(UTC)

        async def ended() -> bool:
            rows = await signins(db, sara.id)
            return len(rows) == 1 and rows[0].ended_at is not None

        await eventually(ended)
        noticed_by = datetime.now(UTC)
        (row,) = await signins(db, sara.id)
        # Ended when the panel closed (its last sight), which a turn took as gone once the
        # grace had passed after it: not when that turn came.
        assert row.ended_at is not None and row.ended_at == row.seen_at
        assert closing_at <= row.ended_at <= noticed_by - timedelta(seconds=0.5)


async def test_one_agent_on_two_instances_is_one_interval(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    conf_ = conf(settings, db, **QUIET)
    grace = timedelta(seconds=7200)
    async with serving(conf_) as (port_a, app_a), serving(conf_) as (port_b, app_b):
        a, b = Agent(port_a, token), Agent(port_b, token)
        # Both sign in at once: the index of open intervals makes it one row.
        await asyncio.gather(a.connect(), b.connect())
        try:
            (row,) = await signins(db, sara.id)
            assert row.ended_at is None
            await app_a.state.signins.turn()
            await app_b.state.signins.turn()
            assert [r.id for r in await signins(db, sara.id)] == [row.id]
            # She closes A's tab; B still holds a panel and says so at its turn.
            await a.close()
            await gone(app_a, sara.id)
            await app_a.state.signins.turn()
            t_a = (await signins(db, sara.id))[0].seen_at
            await app_b.state.signins.turn()
            (row_b,) = await signins(db, sara.id)
            t_b = row_b.seen_at
            assert t_a is not None and t_b is not None and t_b > t_a
            assert row_b.id == row.id and row_b.ended_at is None
            # When A alone would have ended it (the grace after A last saw her), B's sight
            # keeps it.
            assert await app_a.state.signins.turn(now=t_a + grace + (t_b - t_a) / 2) == 0
        finally:
            await a.close()
            await b.close()
        await gone(app_b, sara.id)
        await app_b.state.signins.turn()
        closed_at = (await signins(db, sara.id))[0].seen_at
        assert closed_at is not None and closed_at > t_b
        # Any instance ends it, at B's last sight.
        assert await app_a.state.signins.turn(now=closed_at + grace + timedelta(seconds=1)) == 1
        (row,) = await signins(db, sara.id)
        assert row.ended_at == closed_at
    # Not one row by a conflict that failed a write: every sign-in and turn went through.
    assert not [r for r in caplog.records if r.name == "screenpop.signins"]


async def test_signing_out_ends_the_interval(db: Database, settings: Settings) -> None:
    sara, token = await agent_with_token(db, settings, devices=["PJSIP/7001"])
    async with serving(conf(settings, db, **QUIET)) as (port, app), panel(port, token):
        before = datetime.now(UTC)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            reply = await http.post(
                "/api/auth/logout", headers={"Authorization": f"Bearer {token}"}
            )
        assert reply.status_code == 204
        (row,) = await signins(db, sara.id)
        assert row.ended_at is not None and row.ended_at >= before
        # The panel is still in the hub until the keeper closes it; its token is revoked,
        # so a turn does not sign her in again.
        assert app.state.hub.has(sara.id)
        await app.state.signins.turn()
        assert [r.id for r in await signins(db, sara.id)] == [row.id]


async def test_signed_in_time_in_the_report_equals_a_hand_count(
    db: Database, settings: Settings
) -> None:
    """08:00 a panel opens; seen at 10:00; the last panel closes at 12:00 (noticed at 12:10:
    the grace is 5 min); again from 13:00 until a sign-out at 17:30; then 23:50 until past
    midnight, still open. The day: 4 h + 4 h 30 min + 10 min = 8 h 40 min, none of it
    logged-in time (the PBX's: 09:00-17:00 in a queue, a separate figure)."""
    day = datetime(2026, 11, 23, tzinfo=UTC)

    def at(hours: float) -> datetime:
        return day + timedelta(hours=hours)

    assert db.sessionmaker is not None
    quiet = settings.model_copy(update={"signin_grace_seconds": 300.0})
    async with unit_of_work(db.sessionmaker) as session:
        sara = await make_user(session, Role.agent, devices=["PJSIP/7001"])
        signin = SignInService(session, quiet)
        await signin.signed_in(sara.id, now=at(8))
        await signin.sweep([sara.id], {}, now=at(10))
        await signin.sweep([], {sara.id: at(12)}, now=at(12 + 5 / 60))
        assert await signin.sweep([], {}, now=at(12 + 10 / 60)) == 1
        await signin.signed_in(sara.id, now=at(13))
        await signin.sweep([sara.id], {}, now=at(15))
        assert await signin.signed_out(sara.id, now=at(17.5)) == 1
        await signin.signed_in(sara.id, now=at(23 + 50 / 60))
        activity = ActivityService(session)
        await activity.record([member(at(9).timestamp())], None)
        await activity.record([member(at(17).timestamp(), removed=True)], None)

        report = await activity.report(day, at(24), now=at(25))
        (row,) = report["agents"]
        assert row["signed_in_seconds"] == 8 * 3600 + 40 * 60
        assert row["logged_in_seconds"] == 8 * 3600
        assert report["team"]["signed_in_seconds"] == 8 * 3600 + 40 * 60
        # The PBX's figures are untouched by it.
        assert row["idle_seconds"] == 8 * 3600 and row["utilisation_pct"] == 0.0

        timeline = await activity.timeline(sara.id, day, at(24), now=at(25), signed_in=True)
        assert [(i["from"], i["to"], i["open"]) for i in timeline] == [
            (at(8).isoformat(), at(12).isoformat(), False),
            (at(13).isoformat(), at(17.5).isoformat(), False),
            (at(23 + 50 / 60).isoformat(), at(24).isoformat(), True),
        ]
        states = await activity.timeline(sara.id, day, at(24), now=at(25))
        assert [i["state"] for i in states] == ["idle"]


async def test_a_sign_in_after_every_instance_was_down_starts_afresh(
    db: Database, settings: Settings
) -> None:
    """Seen last at 10:00, then no instance ran (nobody ended it); a panel at 20:00 ends it at
    10:00 and opens a new one, instead of counting the night."""
    day = datetime(2026, 11, 23, tzinfo=UTC)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        sara = await make_user(session, Role.agent, devices=["PJSIP/7001"])
        reza = await make_user(session, Role.agent, devices=["PJSIP/7002"])
        signin = SignInService(session, settings)
        await signin.signed_in(sara.id, now=day + timedelta(hours=8))
        await signin.sweep([sara.id, reza.id], {}, now=day + timedelta(hours=10))
        await signin.signed_in(sara.id, now=day + timedelta(hours=20))
    old, new = await signins(db, sara.id)
    assert (old.started_at, old.ended_at) == (day + timedelta(hours=8), day + timedelta(hours=10))
    assert (new.started_at, new.ended_at) == (day + timedelta(hours=20), None)
    # Her sign-in ends only hers: Reza's is for a turn to end.
    (his,) = await signins(db, reza.id)
    assert his.ended_at is None
