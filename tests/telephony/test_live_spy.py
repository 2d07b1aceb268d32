"""A supervisor on a real Asterisk: Tamas's Originate rang 1003 into [tamas-spy] and
ChanSpy ran on 1001's channel; L12 listened until Tamas's Hangup ended it, L15 barged in
until the customer hung up. The stream, replayed through a listener, gives the session the
times the live Tamas stored, and the supervisor's call is no call of the customer's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import delete, select

from app.db import Database, unit_of_work
from app.models import Call, SpySession
from telephony.handlers import CallRecorder
from telephony.simulator import AmiSimulator
from tests.telephony.replay import replay, trace_events
from tests.telephony.test_listener import SECRET, USER, calls_of, eventually, listener_for
from tests.telephony.traces import AMI_DIR, trace_facts

NAME = "L12_spy"
# Each trace, with its ChanSpy options and whether Tamas stopped it (else the call's end).
SESSIONS = {"L12_spy": ("qbES", True), "L15_barge": ("qbBES", False)}


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        await session.execute(delete(SpySession))
        await session.execute(delete(Call))


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_the_pbx_ran_chanspy_on_the_agents_channel(name: str) -> None:
    """What the Originate led to on the real Asterisk, step by step."""
    options, stopped = SESSIONS[name]
    stored = trace_facts(name)["tamas"]["spy_session"]
    events = trace_events(name)
    [response] = [e for e in events if e.name == "OriginateResponse"]
    assert (response.get("ActionID"), response.get("Response")) == (stored["ref"], "Success")
    spy_channel = response.get("Channel")
    assert spy_channel.startswith(stored["supervisor_device"] + "-")
    steps = [
        (e.get("Context"), e.get("Application"), e.get("AppData"))
        for e in events
        if e.name == "Newexten" and e.channel == spy_channel
    ]
    assert ("tamas-spy", "ChanSpy", f"{stored['agent_channel']},{options}") in steps
    [gone] = [e for e in events if e.name == "Hangup" and e.channel == spy_channel]
    agent_gone = next(
        e for e in events if e.name == "Hangup" and e.channel == stored["agent_channel"]
    )
    assert gone.get("Cause") == "16"
    # Tamas's Hangup ended the supervisor's channel and the agent's call went on; or the
    # call ended and ChanSpy (E, S) with it.
    assert (gone.at < agent_gone.at) is stopped
    assert (stored["stopped_by_user_id"] is not None) is stopped


@pytest.mark.parametrize("name", sorted(SESSIONS))
async def test_the_session_as_the_live_tamas_stored_it(db: Database, name: str) -> None:
    facts = trace_facts(name)
    stored = facts["tamas"]["spy_session"]
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        # The session as Tamas wrote it before sending the Originate.
        session.add(
            SpySession(
                ref=stored["ref"],
                pbx=name,
                mode=stored["mode"],
                agent_channel=stored["agent_channel"],
                supervisor_device=stored["supervisor_device"],
            )
        )
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, name, db)
        await listener.start()
        try:

            async def connected() -> bool:
                return listener.health.status == "connected" and listener.health.resyncs >= 1

            await eventually(connected)
            await sim.replay(AMI_DIR / f"{name}.ami", pace="max").wait()

            async def ended() -> bool:
                async with db.sessionmaker() as session:  # type: ignore[misc]
                    spy = (await session.execute(select(SpySession))).scalar_one()
                    calls = await calls_of(db, name)
                    return spy.state == "ended" and bool(calls) and calls[0].ended_at is not None

            await eventually(ended)
            assert listener.health.handler_errors == 0
        finally:
            await listener.stop()
    async with db.sessionmaker() as session:
        spy = (await session.execute(select(SpySession))).scalar_one()
    assert spy.channel.startswith(stored["supervisor_device"] + "-")
    for column in ("answered_at", "ended_at"):
        live = datetime.fromisoformat(stored[column])
        assert getattr(spy, column) == live, column
    # One call: the customer's, on which only 1001 rang (1003 rang for the supervisor).
    calls = await calls_of(db, name)
    [call] = calls
    assert (call.direction, call.answered_by) == ("inbound", "PJSIP/1001")
    assert [r["device"] for r in call.rings] == ["PJSIP/1001"]
    assert call.hung_up_by == facts["crm_call_log"]["hung_up_by"]


async def test_a_supervisors_call_in_one_batch_is_no_call(db: Database) -> None:
    """The whole trace as one batch (a busy PBX, a listener that fell behind): the
    supervisor's channel is seen, then said to be Tamas's listen (its TAMAS_SPY_CHANNEL),
    in the same batch; none of its states is stored."""
    assert db.sessionmaker is not None
    _, events = replay(NAME, pbx=NAME)
    spy_linkedids = {e.call.linkedid for e in events if e.call.supervision}
    assert len(spy_linkedids) == 1
    assert any(not e.call.supervision for e in events if e.call.linkedid in spy_linkedids)
    recorder = CallRecorder(db.sessionmaker)
    await recorder(events)
    await recorder.stop()
    calls = await calls_of(db, NAME)
    assert [(c.direction, c.answered_by) for c in calls] == [("inbound", "PJSIP/1001")]
