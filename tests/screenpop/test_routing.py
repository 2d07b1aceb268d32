"""Which agent gets which pop: recorded traces stored with agents on their devices."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.wrapup import agent_device
from app.config import Settings
from app.models import Call, PopEvent, Role, User
from telephony.tracker import CallTracker
from tests.fixtures.factories import make_customer, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay, with_survey


async def agents(session: AsyncSession) -> dict[str, User]:
    out = {}
    for ext, name in (("1001", "سارا احمدی"), ("1002", "رضا کریمی"), ("1003", "مریم حسینی")):
        user = await make_user(session, Role.agent, devices=[f"PJSIP/{ext}"])
        user.full_name = name
        out[ext] = user
    await session.flush()
    return out


async def pops(session: AsyncSession, user: User) -> list[tuple[str, str, str]]:
    rows = await session.execute(
        select(PopEvent).where(PopEvent.user_id == user.id).order_by(PopEvent.id)
    )
    return [(p.kind, p.payload["state"], p.payload["reason"]) for p in rows.scalars()]


async def store(app: FastAPI, name: str) -> None:
    _, events = replay(name)
    await InlineRecorder(app.state.sessionmaker)(events)


async def test_queue_call_pops_every_ringing_agent_and_withdraws_the_others(
    app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    team = await agents(session)
    maryam = await make_customer(session, settings, "مریم حسینی (مشتری)", ("09351234567",))
    await store(app, "A4_persian_name_queue_answered")
    assert await pops(session, team["1002"]) == [
        ("pop", "ringing", ""),
        ("pop", "answered", ""),
        ("end", "ended", "ended"),
    ]
    for ext in ("1001", "1003"):
        assert await pops(session, team[ext]) == [
            ("pop", "ringing", ""),
            ("withdraw", "answered_elsewhere", "answered"),
        ]
    withdraw = (
        await session.execute(
            select(PopEvent).where(PopEvent.user_id == team["1001"].id, PopEvent.kind == "withdraw")
        )
    ).scalar_one()
    assert withdraw.payload["answered_by"] == "رضا کریمی"
    first = (
        (await session.execute(select(PopEvent).where(PopEvent.user_id == team["1002"].id)))
        .scalars()
        .first()
    )
    assert first is not None
    card = first.payload
    assert card["caller_name"] == "مریم حسینی"
    assert card["number_display"] == "0935 123 4567"
    assert card["known"] is True and card["customers"][0]["id"] == maryam.id
    assert card["queue"] == "support"


async def test_abandoned_queue_call_withdraws_every_pop(
    app: FastAPI, session: AsyncSession
) -> None:
    team = await agents(session)
    await store(app, "05_queue_abandoned")
    for user in team.values():
        assert await pops(session, user) == [
            ("pop", "ringing", ""),
            ("withdraw", "ended", "caller_hung_up"),
        ]
    card = (await session.execute(select(PopEvent))).scalars().first()
    assert card is not None and card.payload["known"] is False  # quick-create on the panel


async def test_a_blind_transfer_moves_the_pop(app: FastAPI, session: AsyncSession) -> None:
    team = await agents(session)
    await store(app, "07_blind_transfer")
    assert await pops(session, team["1001"]) == [
        ("pop", "ringing", ""),
        ("pop", "answered", ""),
        ("withdraw", "transferred_away", "transferred"),
    ]
    assert await pops(session, team["1002"]) == [
        ("pop", "transferred", "transferred"),
        ("pop", "ringing", "transferred"),
        ("pop", "answered", ""),
        ("end", "ended", "ended"),
    ]
    moved = (
        (await session.execute(select(PopEvent).where(PopEvent.user_id == team["1002"].id)))
        .scalars()
        .first()
    )
    assert moved is not None and moved.payload["transferred_by"] == "سارا احمدی"
    # Once Reza answers, his pops say he has the call (issue 21: they named Sara), while the
    # call log keeps who answered first.
    rows = await session.execute(
        select(PopEvent).where(PopEvent.user_id == team["1002"].id).order_by(PopEvent.id)
    )
    assert [(p.payload["state"], p.payload["answered_by"]) for p in rows.scalars()] == [
        ("transferred", "سارا احمدی"),
        ("ringing", "سارا احمدی"),
        ("answered", "رضا کریمی"),
        ("ended", "رضا کریمی"),
    ]


async def test_click_to_call_shows_who_is_dialled(
    app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    team = await agents(session)
    await make_customer(session, settings, "علی رضایی", ("09121234567",))
    await store(app, "01_direct_answered")  # an earlier call from the same number
    await store(app, "06_click_to_call")
    outbound = await pops(session, team["1001"])
    assert outbound[-3:] == [
        ("pop", "dialling", ""),
        ("pop", "connected", ""),
        ("end", "ended", "ended"),
    ]
    dialling = (
        (
            await session.execute(
                select(PopEvent).where(PopEvent.user_id == team["1001"].id).order_by(PopEvent.id)
            )
        )
        .scalars()
        .all()[-3]
    )
    assert dialling.payload["direction"] == "outbound"
    assert dialling.payload["customers"][0]["name"] == "علی رضایی"
    [last] = dialling.payload["last_calls"]
    assert last["outcome"] == "answered" and last["agent"] == "سارا احمدی"


async def test_the_agent_is_let_go_when_the_caller_stays_for_the_survey(
    app: FastAPI, session: AsyncSession
) -> None:
    """04 with the post-call survey (the caller's channel goes on for 45 s after the agent
    hung up): the agent's pop ends when the caller goes on alone, once; their after-call
    work starts then, not again at the call's end; the talk time stored is the agent's."""
    team = await agents(session)
    events, _at = with_survey("04_queue_answered", "PJSIP/1002-", 45.0, pbx="hub-test")
    tracker = CallTracker("hub-test")
    out = [o for e in events for o in tracker.handle(e)]
    await InlineRecorder(app.state.sessionmaker)(out)
    assert await pops(session, team["1002"]) == [
        ("pop", "ringing", ""),
        ("pop", "answered", ""),
        ("end", "ended", "ended"),
    ]
    assert [agent_device(e) for e in out if agent_device(e)] == ["PJSIP/1002"]
    [released] = [e for e in out if e.kind == "released"]
    [ended] = [e for e in out if e.kind == "ended"]
    call = (await session.execute(select(Call))).scalar_one()
    assert call.talk_seconds == pytest.approx(ended.call.talk_seconds)
    assert call.talk_seconds < ended.call.ended_at - released.call.answered_at - 40  # type: ignore[operator]
    assert call.hung_up_by == "agent"
