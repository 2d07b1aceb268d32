"""Internal phones and trunks told apart by the devices Tamas knows, not by the shape of
their names: a PBX whose trunk is numbered like an extension (PJSIP/1001), and a phone with
a name (PJSIP/reception). The name decides only while no device is known."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role
from app.users.devices import DeviceRefresher
from telephony.devices import KnownDevices
from telephony.events import AmiEvent
from telephony.framing import Message
from telephony.model import CallSnapshot
from telephony.tracker import CallTracker
from tests.fixtures.factories import make_user
from tests.telephony.replay import ended_calls, replay
from tests.telephony.traces import call_trace_names, expected_calls, expected_row

AGENTS = KnownDevices(["PJSIP/2001", "pjsip/2002", "PJSIP/reception"])


def _ev(name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *fields.items())
    return AmiEvent("pbx1", name, Message(pairs=tuple(pairs)), at)


def _chan(channel: str, uid: str) -> dict[str, str]:
    return {"Channel": channel, "Uniqueid": uid, "Linkedid": "9.1"}


def _call(
    tracker: CallTracker, caller: str, callee: str, caller_id: str, exten: str
) -> CallSnapshot:
    """``caller`` dials ``callee`` (both channel names), who answers; then both hang up."""
    a, b = _chan(caller, "9.1"), _chan(callee, "9.2")
    dest = {"DestChannel": callee, "DestUniqueid": "9.2"}
    events = [
        _ev("Newchannel", 0, ChannelState="4", CallerIDNum=caller_id, Exten=exten, **a),
        _ev("Newchannel", 0.1, ChannelState="0", **b),
        _ev("DialBegin", 0.1, Exten=exten, **dest, **a),
        _ev("Newstate", 0.5, ChannelState="5", **b),
        _ev("Newstate", 3.0, ChannelState="6", **b),
        _ev("DialEnd", 3.0, DialStatus="ANSWER", **dest, **a),
        _ev("Hangup", 20.0, Cause="16", **a),
        _ev("Hangup", 20.0, Cause="16", **b),
    ]
    out = [e for ev in events for e in tracker.handle(ev)]
    assert out[-1].kind == "ended"
    return out[-1].call


def test_the_known_devices_decide_and_the_name_only_without_them() -> None:
    assert AGENTS.is_internal("PJSIP/2001") and AGENTS.is_internal("PJSIP/2002")
    assert AGENTS.is_internal("PJSIP/reception")
    assert not AGENTS.is_internal("PJSIP/1001")  # numbered like an extension: a trunk here
    assert not AGENTS.is_internal("PJSIP/trunk")
    unknown = KnownDevices()
    assert unknown.is_internal("PJSIP/1001") and not unknown.is_internal("PJSIP/trunk")
    book = KnownDevices(["PJSIP/2001"])
    assert not book.replace([" pjsip/2001 "])  # the same device, written otherwise
    assert book.replace(["PJSIP/2001", "SIP/301"]) and book.is_internal("SIP/301")
    assert book.replace([]) and book.is_internal("PJSIP/1001")  # none known: the name again


def test_a_numbered_trunk_brings_a_customer_in() -> None:
    call = _call(
        CallTracker("pbx1", is_internal=AGENTS.is_internal),
        "PJSIP/1001-00000001",
        "PJSIP/2001-00000002",
        "09121234567",
        "100",
    )
    assert (call.direction, call.customer_number, call.did) == ("inbound", "09121234567", "100")
    assert call.answered_by == "PJSIP/2001" and call.outcome == "answered"
    assert [r.device for r in call.rings] == ["PJSIP/2001"]
    assert {leg.device: leg.internal for leg in call.legs} == {
        "PJSIP/1001": False,
        "PJSIP/2001": True,
    }
    # By the name alone the same call would have been two phones talking.
    by_name = _call(
        CallTracker("pbx1"), "PJSIP/1001-00000001", "PJSIP/2001-00000002", "09121234567", "100"
    )
    assert by_name.direction == "internal" and by_name.customer_number == ""


def test_an_agent_calls_out_through_a_numbered_trunk() -> None:
    call = _call(
        CallTracker("pbx1", is_internal=AGENTS.is_internal),
        "PJSIP/2002-00000003",
        "PJSIP/1001-00000004",
        "2002",
        "09351112233",
    )
    assert (call.direction, call.customer_number) == ("outbound", "09351112233")
    assert call.customer_e164 == "+989351112233"


def test_a_named_phone_calling_an_agent_is_internal() -> None:
    call = _call(
        CallTracker("pbx1", is_internal=AGENTS.is_internal),
        "PJSIP/reception-00000005",
        "PJSIP/2001-00000006",
        "reception",
        "2001",
    )
    assert call.direction == "internal" and call.customer_number == ""


@pytest.mark.parametrize("name", call_trace_names())
def test_recorded_traces_with_their_agents_known(name: str) -> None:
    """The recorded PBX's agents are 1001-1003 and its trunk PJSIP/trunk: knowing them
    changes nothing in what the traces give."""
    book = KnownDevices(["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"])
    _, events = replay(name, is_internal=book.is_internal)
    # Not the consultations, nor a supervisor's listen (not a call: the recorder drops it).
    calls = [
        e.call
        for e in ended_calls(events)
        if e.call.direction != "internal" and not e.call.supervision
    ]
    got = sorted(
        (expected_row(asdict(c)) for c in calls), key=lambda r: (r["number"], r["outcome"])
    )
    want = sorted(expected_calls()[name], key=lambda r: (r["number"], r["outcome"]))
    assert got == want


async def test_the_refresher_reads_the_agents_devices_and_the_configured_ones(
    app: FastAPI, session: AsyncSession
) -> None:
    await make_user(session, Role.agent, devices=["PJSIP/2001"])
    leaver = await make_user(session, Role.agent, devices=["PJSIP/2002"])
    leaver.is_active = False  # gone, their phone still the PBX's
    await session.flush()
    refresher = DeviceRefresher(
        app.state.sessionmaker, {"main": ["PJSIP/reception"], "branch": []}, every=30
    )
    assert refresher.books["main"].devices == {"PJSIP/reception"}
    await refresher.refresh_once()
    assert refresher.books["main"].devices == {"PJSIP/2001", "PJSIP/2002", "PJSIP/reception"}
    assert refresher.books["branch"].devices == {"PJSIP/2001", "PJSIP/2002"}
    assert not refresher.books["branch"].is_internal("PJSIP/1001")
