"""Why a click-to-call failed, from the recorded traces and from the PBX's answers; the
member states the queue events report."""

from __future__ import annotations

import dataclasses

import pytest

from telephony import members
from telephony.events import AmiEvent, event_from_message
from telephony.framing import FrameParser, Message
from telephony.model import CallSnapshot, OriginateOutcome
from telephony.originate import FAILURES, failure_of_call, failure_of_response
from telephony.tracker import CallTracker
from tests.telephony.replay import declined_click_to_call, ended_calls, replay
from tests.telephony.traces import trace_bytes


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("06_click_to_call", ""),
        ("A2_click_to_call_agent_no_answer", "agent_no_answer"),
        ("A3_click_to_call_customer_busy", "customer_busy"),
    ],
)
def test_failure_of_each_recorded_click_to_call(name: str, failure: str) -> None:
    _, events = replay(name)
    (ended,) = [e.call for e in ended_calls(events) if e.call.direction == "outbound"]
    assert failure_of_call(ended) == failure


def test_a_live_call_has_no_failure_yet() -> None:
    _, events = replay("A3_click_to_call_customer_busy")
    assert all(failure_of_call(e.call) == "" for e in events if e.kind != "ended")


def _customer_leg_failed(cause: str, dial_status: str) -> CallSnapshot:
    """The A3 call (agent answered), with the customer leg ending another way."""
    _, events = replay("A3_click_to_call_customer_busy")
    call = ended_calls(events)[-1].call
    legs = tuple(
        dataclasses.replace(leg, hangup_cause=cause, dial_status="")
        if leg.device.endswith("trunk")
        else leg
        for leg in call.legs
    )
    return dataclasses.replace(call, legs=legs, dial_status=dial_status, outcome="failed")


@pytest.mark.parametrize(
    ("cause", "dial_status", "failure"),
    [
        ("19", "NOANSWER", "customer_no_answer"),
        ("34", "CONGESTION", "congestion"),
        ("1", "CHANUNAVAIL", "invalid_number"),
        ("28", "CHANUNAVAIL", "invalid_number"),
        ("16", "CHANUNAVAIL", "invalid_number"),
        ("16", "CANCEL", "cancelled"),
        ("16", "", "failed"),
    ],
)
def test_customer_side_failures(cause: str, dial_status: str, failure: str) -> None:
    assert failure_of_call(_customer_leg_failed(cause, dial_status)) == failure


@pytest.mark.parametrize(
    ("reason", "cause", "failure"),
    [
        # The agent's channel was made (it rang): Reason 0 alone does not say offline.
        ("0", "", "failed"),
        ("0", "17", "agent_busy"),
        ("0", "21", "agent_rejected"),
        ("0", "20", "device_offline"),
        ("5", "17", "agent_busy"),
        ("1", "21", "agent_rejected"),
        ("", "20", "device_offline"),
        ("", "21", "agent_rejected"),
        ("", "", "agent_no_answer"),
    ],
)
def test_agent_side_failures(reason: str, cause: str, failure: str) -> None:
    _, events = replay("A2_click_to_call_agent_no_answer")
    call = ended_calls(events)[-1].call
    agent = dataclasses.replace(call.legs[0], hangup_cause=cause)
    call = dataclasses.replace(call, legs=(agent,), originate_reason=reason)
    assert failure_of_call(call) == failure


@pytest.mark.parametrize(
    ("success", "reason", "failure"),
    [
        (True, "4", ""),
        (False, "0", "device_offline"),
        (False, "3", "agent_no_answer"),
        (False, "5", "agent_busy"),
        (False, "8", "congestion"),
        (False, "1", "agent_rejected"),
        (False, "-1", "failed"),
    ],
)
def test_failure_of_an_originate_response(success: bool, reason: str, failure: str) -> None:
    outcome = OriginateOutcome("p", "tamas-1", success, reason, "PJSIP/1001", "", 0.0)
    assert failure_of_response(outcome) == failure
    assert failure == "" or failure in FAILURES


def test_the_originate_response_reason_is_kept_on_the_call() -> None:
    _, events = replay("A2_click_to_call_agent_no_answer")
    ended = ended_calls(events)[-1].call
    assert ended.originate_reason == "3"


def _frames(name: str) -> list[Message]:
    parser = FrameParser()
    return [f for f in parser.feed(trace_bytes(name)) if isinstance(f, Message)]


def test_member_states_from_queue_events() -> None:
    states = []
    for frame in _frames("04_queue_answered"):
        event = event_from_message("p", frame, 1.0)
        if event is not None and members.handles(event.name):
            state = members.member_from_event(event)
            assert state is not None
            states.append(state)
    assert states, "the queue trace reports its members"
    reza = [s for s in states if s.interface == "PJSIP/1002"]
    assert reza[0].queue == "support" and reza[0].member_name == "Reza Karimi"
    assert reza[0].membership == "static" and not reza[0].paused
    # Busy while the queue call rings them all, then not in use once it is over.
    assert [(s.interface, s.status) for s in states] == [
        ("PJSIP/1002", 3),
        ("PJSIP/1003", 3),
        ("PJSIP/1001", 3),
        ("PJSIP/1001", 1),
        ("PJSIP/1003", 1),
        ("PJSIP/1002", 1),
    ]


def test_member_snapshot_from_a_queue_status() -> None:
    snapshot = members.snapshot_from_status("p", _frames("10_actions_idle"), 5.0)
    interfaces = sorted({m.interface for m in snapshot.members})
    assert interfaces == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]
    sara = next(m for m in snapshot.members if m.interface == "PJSIP/1001")
    assert sara.member_name == "Sara Ahmadi" and sara.queue == "support" and sara.status == 1


def _ev(name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *fields.items())
    return AmiEvent("pbx1", name, Message(pairs=tuple(pairs)), at)


def test_two_click_to_calls_from_one_phone_each_get_their_own_answer() -> None:
    """The variable tags each call as it starts (``originating``); the OriginateResponse
    failures are matched by ActionID, not by device (the newest call of the device is the
    wrong one here)."""
    t = CallTracker("pbx1")
    first = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    second = {"Channel": "PJSIP/1001-00000002", "Uniqueid": "1.2", "Linkedid": "1.2"}
    events = [
        _ev("Newchannel", 0, ChannelState="0", Exten="s", Context="agents", **first),
        _ev("VarSet", 0, Variable="__TAMAS_ORIGINATION", Value="tamas-a", **first),
        _ev("Newchannel", 1, ChannelState="0", Exten="s", Context="agents", **second),
        _ev("VarSet", 1, Variable="__TAMAS_ORIGINATION", Value="tamas-b", **second),
        _ev("Newstate", 1.1, ChannelState="5", **first),
        _ev(
            "OriginateResponse",
            15,
            ActionID="tamas-a",
            Response="Failure",
            Channel="PJSIP/1001",
            Exten="09121234567",
            Reason="3",
            Uniqueid="<unknown>",
        ),
        _ev("Hangup", 15, Cause="19", **first),
        _ev(
            "OriginateResponse",
            16,
            ActionID="tamas-b",
            Response="Failure",
            Channel="PJSIP/1001",
            Exten="09351112233",
            Reason="5",
            Uniqueid="<unknown>",
        ),
        _ev("Hangup", 16, Cause="17", **second),
    ]
    out = [e for ev in events for e in t.handle(ev)]
    assert [(e.kind, e.call.origination) for e in out] == [
        ("started", ""),
        ("originating", "tamas-a"),
        ("started", ""),
        ("originating", "tamas-b"),
        ("ended", "tamas-a"),
        ("ended", "tamas-b"),
    ]
    assert out[1].device == "PJSIP/1001"
    a, b = out[4].call, out[5].call
    assert a.originate_reason == "3"
    assert b.originate_reason == "5"
    assert failure_of_call(a) == "agent_no_answer"
    assert failure_of_call(b) == "agent_busy"
    assert a.called_number == "09121234567" and b.called_number == "09351112233"


def test_reason_0_without_any_channel_is_offline() -> None:
    _, events = replay("A2_click_to_call_agent_no_answer")
    call = dataclasses.replace(ended_calls(events)[-1].call, legs=(), originate_reason="0")
    assert failure_of_call(call) == "device_offline"


# -- a declined agent phone, both orders of its last two events ---------------------------------

REF = "tamas-0123456789abcdef0123"


@pytest.mark.parametrize("hangup_first", [False, True])
@pytest.mark.parametrize(
    ("cause", "dial_end", "failure"),
    [("17", "", "agent_busy"), ("21", "", "agent_rejected"), ("", "BUSY", "agent_busy")],
)
def test_a_declined_agent_phone_is_not_offline(
    hangup_first: bool, cause: str, dial_end: str, failure: str
) -> None:
    tracker = CallTracker("p")
    out = [
        e
        for ev in declined_click_to_call(
            REF, hangup_first=hangup_first, cause=cause, dial_end=dial_end
        )
        for e in tracker.handle(ev)
    ]
    assert [e.kind for e in out] == ["started", "originating", "ended"]
    call = out[-1].call
    # The same call whichever came first: outbound from the agent to the customer, her
    # phone's ring declined, and why.
    assert (call.direction, call.caller_number, call.called_number) == (
        "outbound", "1001", "09121234567",
    )  # fmt: skip
    assert call.customer_number == "09121234567" and call.outcome == "failed"
    assert [(r.extension, r.result) for r in call.rings] == [("1001", "rejected")]
    assert failure_of_call(call) == failure
    assert call.originate_reason == ("" if hangup_first else "0")
    # The late answer of a call already over is not pinned on another call of the phone.
    assert tracker.calls == {}
