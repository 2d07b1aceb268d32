"""The agents of stored calls: looked up by the calls' and legs' upserts themselves, per row,
for several calls in one batch; only the devices of a call's own internal legs count."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.service import CallLogService
from app.db import unit_of_work
from app.models import Call, CallLeg, Role
from tests.fixtures.factories import make_user
from tests.telephony.replay import replay


async def test_a_batch_of_calls_gets_each_leg_and_answer_its_own_agent(
    app: FastAPI, session: AsyncSession
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1003"])
    _, events = replay("08_attended_transfer")  # two calls: the customer's and the consultation
    calls = list({e.call.linkedid: e.call for e in events}.values())
    assert len(calls) == 2
    async with unit_of_work(app.state.sessionmaker) as writing:
        ids = await CallLogService(writing).record_many(calls)
    assert len(set(ids.values())) == 2

    legs = (await session.execute(select(CallLeg))).scalars().all()
    owners = {"PJSIP/1001": sara.id, "PJSIP/1003": reza.id}
    assert {leg.device for leg in legs} >= set(owners)
    for leg in legs:
        assert leg.user_id == (owners.get(leg.device) if leg.internal else None), leg.device
    stored = {c.linkedid: c for c in (await session.execute(select(Call))).scalars()}
    for call in calls:
        row = stored[call.linkedid]
        assert row.answered_by == call.answered_by
        internal = {leg.device for leg in call.legs if leg.internal}
        expected = owners.get(call.answered_by) if call.answered_by in internal else None
        assert row.answered_by_user_id == expected, call.answered_by
    assert {c.answered_by_user_id for c in stored.values()} - {None}
