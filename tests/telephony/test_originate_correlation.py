"""Which call an OriginateResponse answers for: streams rendered from the recorded
click-to-calls (06 answered, A2 never answered by the agent) with one desk placing several
at once, as another program's Originates (no Tamas tag: only what Asterisk sends)."""

from __future__ import annotations

from random import Random

import pytest

from telephony.events import AmiEvent, event_from_message
from telephony.framing import TERMINATOR, FrameParser, Message
from telephony.model import CallEvent, CallSnapshot
from telephony.simulator import DEFAULT_AGENTS, DEFAULT_TRACE_DIR
from telephony.simulator.generator import CallFactory, GeneratedCall
from telephony.simulator.originate import OriginateRequest, no_channel_call
from telephony.simulator.templates import IdAllocator, load_templates
from telephony.tracker import CallTracker

START = 1_800_000_000.0
ANSWERED, UNANSWERED = "click_to_call", "click_to_call_agent_no_answer"

Stream = list[tuple[float, bytes]]


@pytest.fixture(scope="module")
def factory() -> CallFactory:
    templates = load_templates(DEFAULT_TRACE_DIR)
    return CallFactory(templates, DEFAULT_AGENTS, IdAllocator(), Random(7), boot_time=START)


def _call(factory: CallFactory, scenario: str, start: float, number: str) -> Stream:
    """One click-to-call of desk 1001 dialling ``number``, its events at their times."""
    call = factory.make(scenario, start, number=number.encode(), agent="1001")
    return _timed(call, start)


def _timed(call: GeneratedCall, start: float) -> Stream:
    return [(start + offset, raw) for offset, raw in zip(call.offsets, call.messages, strict=True)]


def _interleave(*streams: Stream) -> Stream:
    # In time order, each call's own events keeping theirs (as the simulator's player does).
    tagged = [(at, i, n, raw) for i, s in enumerate(streams) for n, (at, raw) in enumerate(s)]
    return [(at, raw) for at, _i, _n, raw in sorted(tagged)]


def _track(stream: Stream) -> tuple[CallTracker, list[CallEvent]]:
    tracker = CallTracker("pbx1")
    parser = FrameParser()
    out: list[CallEvent] = []
    for at, raw in stream:
        for frame in parser.feed(raw + TERMINATOR):
            assert isinstance(frame, Message)
            event = event_from_message("pbx1", frame, at)
            assert event is not None
            out += tracker.handle(event)
    return tracker, out


def _ended(events: list[CallEvent]) -> dict[str, CallSnapshot]:
    """Ended calls by the number they dialled (the customer's)."""
    calls = [e.call for e in events if e.kind == "ended"]
    return {c.called_number: c for c in calls}


def _summary(call: CallSnapshot) -> tuple[str, str, str]:
    return call.direction, call.outcome, call.originate_reason


@pytest.mark.parametrize(
    "later",
    [
        10.0,  # the other is answered and talking when the unanswered one gives up
        14.0,  # the other still rings its agent then (answered 1.5 s later)
    ],
)
def test_one_desk_two_click_to_calls_one_never_answered(factory: CallFactory, later: float) -> None:
    """The failure (no Uniqueid, ``Channel: PJSIP/1001``) of the unanswered one is its
    own, although the desk's newest call is the other one."""
    unanswered = _call(factory, UNANSWERED, START, "09121110001")
    answered = _call(factory, ANSWERED, START + later, "09122220002")
    tracker, events = _track(_interleave(unanswered, answered))
    calls = _ended(events)
    assert set(calls) == {"09121110001", "09122220002"}
    assert _summary(calls["09121110001"]) == ("outbound", "failed", "3")
    assert _summary(calls["09122220002"]) == ("outbound", "answered", "4")
    assert not tracker.calls


def test_two_unanswered_at_once_each_get_their_own_failure(factory: CallFactory) -> None:
    first = _call(factory, UNANSWERED, START, "09121110001")
    second = _call(factory, UNANSWERED, START + 3.0, "09123330003")
    _, events = _track(_interleave(first, second))
    calls = _ended(events)
    assert set(calls) == {"09121110001", "09123330003"}
    for call in calls.values():
        assert _summary(call) == ("outbound", "failed", "3")


def test_a_failure_with_no_channel_is_no_ringing_calls(factory: CallFactory) -> None:
    """A second Originate to a desk that gets no channel at all (Reason 0): its failure
    is not the answer of the click-to-call ringing that desk, answered later."""
    answered = _call(factory, ANSWERED, START, "09122220002")
    request = OriginateRequest("1001", "09124440004", "x-1", "", channel="PJSIP/1001")
    offline = _timed(no_channel_call(request, "device_offline"), START + 0.5)
    _, events = _track(_interleave(answered, offline))
    (call,) = [e.call for e in events if e.kind == "ended"]
    assert (call.called_number, *_summary(call)) == ("09122220002", "outbound", "answered", "4")


def test_a_failure_after_its_hangup_is_not_another_calls(factory: CallFactory) -> None:
    """When the unanswered channel's Hangup comes before the failure, the failure still
    belongs to it, not to the desk's other click-to-call that rings on."""
    unanswered = _call(factory, UNANSWERED, START, "09121110001")
    response = next(i for i, (_at, raw) in enumerate(unanswered) if b"OriginateResponse" in raw)
    hangup = next(i for i, (_at, raw) in enumerate(unanswered) if raw.startswith(b"Event: Hangup"))
    unanswered.insert(hangup, unanswered.pop(response))
    answered = _call(factory, ANSWERED, START + 14.0, "09122220002")
    _, events = _track(_interleave(unanswered, answered))
    calls = _ended(events)
    assert _summary(calls["09122220002"]) == ("outbound", "answered", "4")
    assert calls.get("09121110001") is None or calls["09121110001"].outcome == "failed"


def test_a_late_failure_of_an_ended_tagged_call_is_nobody_elses() -> None:
    """Tamas's click-to-call (tagged with its ActionID) ended before its failure came: the
    failure is not given to the desk's other click-to-call, ringing on."""
    t = CallTracker("pbx1")
    first = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    second = {"Channel": "PJSIP/1001-00000002", "Uniqueid": "1.2", "Linkedid": "1.2"}
    events = [
        _ev("Newchannel", 0, ChannelState="0", Exten="s", **first),
        _ev("VarSet", 0, Variable="__TAMAS_ORIGINATION", Value="tamas-a", **first),
        _ev("DialBegin", 0, DestChannel=first["Channel"], DestUniqueid="1.1"),
        _ev("Newchannel", 1, ChannelState="0", Exten="s", **second),
        _ev("DialBegin", 1, DestChannel=second["Channel"], DestUniqueid="1.2"),
        _ev("Newstate", 1, ChannelState="5", **second),
        _ev("Hangup", 5, Cause="21", **first),
        _failure(5, "tamas-a", "09121110001", "0"),
        _ev("Newstate", 6, ChannelState="6", **second),
        _ev("Hangup", 7, Cause="16", **second),
    ]
    out = [e for ev in events for e in t.handle(ev)]
    ended = [e.call for e in out if e.kind == "ended"]
    assert [(c.linkedid, c.origination, c.called_number) for c in ended] == [
        ("1.1", "tamas-a", "s"),
        ("1.2", "", "s"),
    ]
    assert ended[1].originate_reason == ""


def test_a_failure_waits_only_for_the_channel_that_hangs_up_with_it() -> None:
    """Two click-to-calls ringing one desk; a failure naming only the desk: the one that
    hangs up with it takes it, the other one's own answer is still to come."""
    t = CallTracker("pbx1")
    first = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    second = {"Channel": "PJSIP/1001-00000002", "Uniqueid": "1.2", "Linkedid": "1.2"}
    events = [
        _ev("Newchannel", 0, ChannelState="0", Exten="s", **first),
        _ev("DialBegin", 0, DestChannel=first["Channel"], DestUniqueid="1.1"),
        _ev("Newchannel", 1, ChannelState="0", Exten="s", **second),
        _ev("DialBegin", 1, DestChannel=second["Channel"], DestUniqueid="1.2"),
        _failure(15, "", "09121110001", "3"),
        _ev("Hangup", 15, Cause="19", **first),
        _failure(20, "", "09122220002", "5"),
        _ev("Hangup", 20, Cause="17", **second),
    ]
    out = [e for ev in events for e in t.handle(ev)]
    ended = [e.call for e in out if e.kind == "ended"]
    assert [(c.linkedid, c.called_number, c.direction, c.originate_reason) for c in ended] == [
        ("1.1", "09121110001", "outbound", "3"),
        ("1.2", "09122220002", "outbound", "5"),
    ]


def _ev(name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *fields.items())
    return AmiEvent("pbx1", name, Message(pairs=tuple(pairs)), at)


def _failure(at: float, action_id: str, exten: str, reason: str) -> AmiEvent:
    fields = {"ActionID": action_id} if action_id else {}
    return _ev(
        "OriginateResponse",
        at,
        **fields,
        Response="Failure",
        Channel="PJSIP/1001",
        Context="agents",
        Exten=exten,
        Reason=reason,
        Uniqueid="<unknown>",
        CallerIDNum="<unknown>",
        CallerIDName="<unknown>",
    )
