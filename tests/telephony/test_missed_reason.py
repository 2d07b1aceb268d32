"""An inbound call nobody served is missed whatever the reason; the reason (no_answer,
declined, busy) is kept apart. Recorded traces and hand-built event sequences."""

from __future__ import annotations

import pytest

from telephony.events import AmiEvent
from telephony.framing import Message
from telephony.model import CallSnapshot
from telephony.tracker import CallTracker
from tests.telephony.replay import ended_calls, replay


def _ev(name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *fields.items())
    return AmiEvent("pbx1", name, Message(pairs=tuple(pairs)), at)


TRUNK = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}


def _phone(n: int, ext: str) -> dict[str, str]:
    return {"Channel": f"PJSIP/{ext}-0000000{n}", "Uniqueid": f"1.{n}", "Linkedid": "1.1"}


def _direct(*phones: tuple[str, bool, str, str], queue: str = "") -> CallSnapshot:
    """A customer's call to the business ringing ``phones``: (extension, whether the phone
    said it rings, its DialStatus, its hangup cause). The customer hangs up last."""
    t = CallTracker("pbx1")
    first = {"ChannelState": "4", "CallerIDNum": "09121234567", "Exten": "100"}
    events = [_ev("Newchannel", 0, **first, **TRUNK)]
    if queue:
        events.append(_ev("QueueCallerJoin", 0.1, Queue=queue, **TRUNK))
    for n, (ext, rang, status, cause) in enumerate(phones, start=2):
        phone = _phone(n, ext)
        dest = {"DestChannel": phone["Channel"], "DestUniqueid": phone["Uniqueid"]}
        events += [
            _ev("Newchannel", 0.2, ChannelState="0", **phone),
            _ev("DialBegin", 0.2, **dest, **TRUNK),
        ]
        if rang:
            events.append(_ev("Newstate", 0.3, ChannelState="5", **phone))
        events += [
            _ev("DialEnd", 2.0, DialStatus=status, **dest, **TRUNK),
            _ev("Hangup", 2.0, Cause=cause, **phone),
        ]
    events.append(_ev("Hangup", 3.0, Cause="16", **TRUNK))
    out = [e for ev in events for e in t.handle(ev)]
    assert out[-1].kind == "ended"
    return out[-1].call


@pytest.mark.parametrize(
    ("phones", "reason"),
    [
        # Rang until the dial gave up.
        ([("1001", True, "NOANSWER", "19")], "no_answer"),
        # The agent pressed "reject" while it rang: 486 Busy Here (cause 17) or 603 (21).
        ([("1001", True, "BUSY", "17")], "declined"),
        ([("1001", True, "CHANUNAVAIL", "21")], "declined"),
        # 603 Decline sent without ringing (do not disturb) is a refusal all the same.
        ([("1001", False, "CHANUNAVAIL", "21")], "declined"),
        # The line refused the call at once (in use, call waiting off): busy.
        ([("1001", False, "BUSY", "17")], "busy"),
        # One agent declined, another one's line was busy: declined tells more.
        ([("1001", False, "BUSY", "17"), ("1002", True, "BUSY", "17")], "declined"),
        ([("1001", False, "BUSY", "17"), ("1002", True, "NOANSWER", "19")], "busy"),
    ],
)
def test_every_unserved_inbound_call_is_missed_with_its_reason(
    phones: list[tuple[str, bool, str, str]], reason: str
) -> None:
    call = _direct(*phones)
    assert call.direction == "inbound"
    assert (call.outcome, call.missed_reason) == ("missed", reason)


def test_answered_abandoned_and_outbound_calls_have_no_missed_reason() -> None:
    _, events = replay("05_queue_abandoned")
    [abandoned] = [e.call for e in ended_calls(events)]
    assert (abandoned.outcome, abandoned.missed_reason) == ("abandoned", "")
    _, events = replay("01_direct_answered")
    [answered] = [e.call for e in ended_calls(events)]
    assert (answered.outcome, answered.missed_reason) == ("answered", "")
    # An agent's call to a busy customer stays "busy": it is not the business missing one.
    _, events = replay("A3_click_to_call_customer_busy")
    outbound = events[-1].call
    assert (outbound.direction, outbound.outcome, outbound.missed_reason) == (
        "outbound",
        "busy",
        "",
    )


def test_recorded_traces() -> None:
    """The real phone in 03 rang 1.5 s and answered 486 Busy Here: declined by the agent."""
    _, events = replay("03_direct_busy")
    [call] = [e.call for e in ended_calls(events)]
    assert (call.outcome, call.missed_reason) == ("missed", "declined")
    _, events = replay("02_direct_noanswer")
    [call] = [e.call for e in ended_calls(events)]
    assert (call.outcome, call.missed_reason) == ("missed", "no_answer")


def test_a_live_call_has_no_reason_yet() -> None:
    t = CallTracker("pbx1")
    [started] = t.handle(
        _ev("Newchannel", 0, ChannelState="4", CallerIDNum="09121234567", Exten="100", **TRUNK)
    )
    assert (started.call.outcome, started.call.missed_reason) == ("live", "")
