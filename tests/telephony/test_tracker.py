"""Every recorded trace through the tracker (no socket, no database): the call log it gives
must be what really happened (expected.json and each trace's .json)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from telephony.events import AmiEvent, event_from_message, extension_of
from telephony.framing import FrameParser, Message
from telephony.model import CallSnapshot
from telephony.tracker import CallTracker, ChannelStatus
from tests.telephony.replay import ended_calls, replay, trace_events, with_survey
from tests.telephony.traces import (
    call_trace_names,
    expected_calls,
    expected_row,
    trace_chunks,
    trace_facts,
)


def customer_calls(name: str) -> list[CallSnapshot]:
    tracker, events = replay(name)
    assert tracker.calls == {}, "every call of the trace must have ended"
    calls = [e.call for e in ended_calls(events)]
    # The consultation leg of an attended transfer is an internal call of its own; a
    # supervisor's listen is no call (the recorder drops it).
    return [c for c in calls if c.direction != "internal" and not c.supervision]


def by_number(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["number"], r["outcome"]))


@pytest.mark.parametrize("name", call_trace_names())
def test_call_log_matches_what_happened(name: str) -> None:
    calls = customer_calls(name)
    assert by_number([expected_row(asdict(c)) for c in calls]) == by_number(expected_calls()[name])


@pytest.mark.parametrize("name", call_trace_names())
def test_recordings_and_times(name: str) -> None:
    facts = trace_facts(name)
    calls = customer_calls(name)
    recorded = sorted(r["path"] for r in facts.get("recordings", []))
    # The consultation call of an attended transfer is recorded as a call of its own.
    every_call = [e.call for e in ended_calls(replay(name)[1])]
    assert sorted(p for c in every_call for p in c.recordings) == recorded
    for call in calls:
        assert call.ended_at is not None and call.started_at <= call.ended_at
        assert call.wait_seconds >= 0 and call.talk_seconds >= 0
        if call.outcome == "answered":
            assert call.answered_at is not None and call.talk_seconds > 0
        else:
            assert call.talk_seconds == 0
        assert call.hung_up_by in ("customer", "agent", "pbx")
        assert call.customer_e164 is not None and call.customer_e164.startswith("+98")


@pytest.mark.parametrize(
    "name", [n for n in call_trace_names() if trace_facts(n).get("crm_call_log")]
)
def test_against_the_sip_truth(name: str) -> None:
    """The A traces carry what the SIP side saw: durations within 1 s, who rang, who
    rejected, who hung up, the caller's name as sent."""
    truth = trace_facts(name)["crm_call_log"]
    [call] = customer_calls(name)
    if "wait_s" in truth:
        assert call.wait_seconds == pytest.approx(truth["wait_s"], abs=1.0)
    if "talk_s" in truth:
        assert call.talk_seconds == pytest.approx(truth["talk_s"], abs=1.0)
    if "agents_rung" in truth:
        # A phone rung twice (the assigned agent, then the queue) is one agent rung.
        assert sorted({r.extension for r in call.rings}) == sorted(truth["agents_rung"])
    for rejected in truth.get("agents_rejected", []):
        [ring] = [r for r in call.rings if r.extension == rejected["agent"]]
        assert ring.result == "rejected"
    if "hung_up_by" in truth:
        assert call.hung_up_by == truth["hung_up_by"]
    if "caller_name" in truth:
        assert call.caller_name == truth["caller_name"]
    if "agent_rang_s" in truth:  # click-to-call whose agent never answered
        assert call.outcome == "failed"


def test_queue_call_live_events_in_order() -> None:
    _, events = replay("A4_persian_name_queue_answered")
    kinds = [(e.kind, extension_of(e.device)) for e in events]
    assert kinds == [
        ("started", ""),
        ("ringing", "1003"),
        ("ringing", "1002"),
        ("ringing", "1001"),
        ("answered", "1002"),
        ("ended", ""),
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    ringing = events[1].call
    assert ringing.caller_name == "مریم حسینی" and ringing.live
    assert ringing.customer_e164 == "+989351234567"


def test_transfer_events() -> None:
    _, events = replay("07_blind_transfer")
    transferred = [e for e in events if e.kind == "transferred"]
    assert [(e.from_device, e.to) for e in transferred] == [("PJSIP/1001", "1002")]
    answered = [extension_of(e.device) for e in events if e.kind == "answered"]
    assert answered == ["1001", "1002"]  # the transfer target's answer is announced too

    _, events = replay("08_attended_transfer")
    transferred = [e for e in events if e.kind == "transferred"]
    assert [(e.from_device, e.to) for e in transferred] == [("PJSIP/1001", "PJSIP/1003")]
    [customer] = [e.call for e in ended_calls(events) if e.call.direction == "inbound"]
    assert [extension_of(leg.device) for leg in customer.legs] == ["trunk", "1001", "1003"]
    assert customer.hold_seconds > 1  # 1001 held the customer while consulting 1003


def test_replayed_events_never_make_a_second_leg() -> None:
    tracker, events = replay("01_direct_answered")
    first = ended_calls(events)
    # The same Newchannel again (a replay after reconnect) is ignored.
    msg = Message(
        pairs=(
            ("Event", "Newchannel"),
            ("Channel", "PJSIP/trunk-00000000"),
            ("Uniqueid", "1795345220.0"),
            ("Linkedid", "1795345220.0"),
        ),
    )
    tracker.handle(AmiEvent("pbx1", "Newchannel", msg, 1.0))
    tracker.handle(AmiEvent("pbx1", "Newchannel", msg, 1.0))
    assert len(tracker.calls) == 1
    assert len(tracker.calls["1795345220.0"].channels) == 1
    assert len(first) == 1


def _status(uid: str, linkedid: str, channel: str, state: str = "6") -> ChannelStatus:
    return ChannelStatus(
        channel=channel,
        uniqueid=uid,
        linkedid=linkedid,
        state=state,
        caller_number="09121234567",
        caller_name="",
        connected_number="",
        exten="100",
        duration_seconds=5,
    )


def test_resync_closes_calls_that_ended_unseen_and_adopts_new_ones() -> None:
    tracker = CallTracker("pbx1")
    msg = Message(
        pairs=(
            ("Event", "Newchannel"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("Uniqueid", "10.1"),
            ("Linkedid", "10.1"),
            ("ChannelState", "4"),
            ("CallerIDNum", "09121234567"),
            ("Exten", "100"),
        )
    )
    tracker.handle(AmiEvent("pbx1", "Newchannel", msg, 100.0))
    # Reconnected at t=200: that call is gone, another one is up with an agent on it.
    events = tracker.resync(
        [
            _status("20.1", "20.1", "PJSIP/trunk-00000002"),
            _status("20.2", "20.1", "PJSIP/1001-00000003"),
        ],
        200.0,
    )
    kinds = [(e.kind, e.call.linkedid) for e in events]
    assert ("ended", "10.1") in kinds and ("started", "20.1") in kinds
    [gone] = [e.call for e in events if e.kind == "ended"]
    assert gone.end_reason.startswith("end not observed")
    assert gone.outcome == "missed"
    assert tracker.snapshot("20.1") is not None
    live = tracker.snapshot("20.1")
    assert live is not None and live.answered_by == "PJSIP/1001"
    assert live.started_at == 195.0
    # The same resync again changes nothing.
    assert (
        tracker.resync(
            [
                _status("20.1", "20.1", "PJSIP/trunk-00000002"),
                _status("20.2", "20.1", "PJSIP/1001-00000003"),
            ],
            201.0,
        )
        == []
    )


def test_two_pbxes_do_not_mix() -> None:
    _a, _ = replay("01_direct_answered", pbx="tehran")
    _b, events = replay("01_direct_answered", pbx="shiraz")
    assert {e.pbx for e in events} == {"shiraz"}
    assert {e.call.pbx for e in events} == {"shiraz"}


def _ev(name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *fields.items())
    return AmiEvent("pbx1", name, Message(pairs=tuple(pairs)), at)


def test_local_channels_are_followed_to_the_real_phone() -> None:
    """FreePBX queues ring members through Local channels (Local/1001@from-queue): the
    agent is the PJSIP phone behind them, and the Local halves are never legs."""
    t = CallTracker("pbx1")
    trunk = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    l1 = {"Channel": "Local/1001@from-queue-00000001;1", "Uniqueid": "1.2", "Linkedid": "1.1"}
    l2 = {"Channel": "Local/1001@from-queue-00000001;2", "Uniqueid": "1.3", "Linkedid": "1.1"}
    phone = {"Channel": "PJSIP/1001-00000002", "Uniqueid": "1.4", "Linkedid": "1.1"}
    events = [
        _ev("Newchannel", 0, ChannelState="4", CallerIDNum="09121234567", Exten="200", **trunk),
        _ev("QueueCallerJoin", 0.1, Queue="support", **trunk),
        _ev("Newchannel", 0.2, ChannelState="0", **l1),
        _ev("Newchannel", 0.2, ChannelState="0", **l2),
        _ev(
            "AgentCalled",
            0.2,
            DestChannel=l1["Channel"],
            DestUniqueid="1.2",
            Queue="support",
            Interface="Local/1001@from-queue/n",
            MemberName="Sara",
            **trunk,
        ),
        _ev("Newchannel", 0.3, ChannelState="0", **phone),
        _ev("DialBegin", 0.3, DestChannel=phone["Channel"], DestUniqueid="1.4", **l2),
        _ev("Newstate", 0.4, ChannelState="5", **phone),
        _ev("Newstate", 2.0, ChannelState="6", **phone),
        _ev("Newstate", 2.0, ChannelState="6", **l1),
        _ev(
            "AgentConnect",
            2.1,
            DestChannel=l1["Channel"],
            DestUniqueid="1.2",
            Queue="support",
            **trunk,
        ),
        _ev("Hangup", 9.0, Cause="16", **trunk),
        _ev("Hangup", 9.0, Cause="16", **l1),
        _ev("Hangup", 9.0, Cause="16", **l2),
        _ev("Hangup", 9.1, Cause="16", **phone),
    ]
    out = [e for ev in events for e in t.handle(ev)]
    assert [(e.kind, e.device) for e in out] == [
        ("started", ""),
        ("ringing", "PJSIP/1001"),
        ("answered", "PJSIP/1001"),
        ("ended", ""),
    ]
    call = out[-1].call
    assert call.answered_by == "PJSIP/1001" and call.outcome == "answered"
    assert call.queue == "support"
    assert [leg.device for leg in call.legs] == ["PJSIP/trunk", "PJSIP/1001"]
    assert call.wait_seconds == 2.0


def test_resync_learns_the_queue_of_a_waiting_caller() -> None:
    from telephony.tracker import QueueEntryStatus

    t = CallTracker("pbx1")
    t.resync([_status("5.1", "5.1", "PJSIP/trunk-00000009", state="6")], 100.0)
    t.resync_queues([QueueEntryStatus("support", "5.1", 4.0)], 100.0)
    call = t.snapshot("5.1")
    assert call is not None and call.queue == "support" and call.queue_joined_at == 96.0


def test_outbound_call_events_for_the_agents_panel() -> None:
    _, events = replay("06_click_to_call")
    assert [(e.kind, extension_of(e.device)) for e in events] == [
        ("started", ""),
        ("dialling", "1001"),  # the customer is being dialled
        ("answered", "1001"),  # the customer picked up
        ("ended", ""),
    ]
    assert events[1].call.direction == "outbound"
    assert events[1].call.customer_number == "09121234567"
    _, events = replay("A3_click_to_call_customer_busy")
    assert [e.kind for e in events] == ["started", "dialling", "ended"]
    assert events[-1].call.outcome == "busy"


def test_a_call_whose_last_channel_moves_away_ends() -> None:
    t = CallTracker("pbx1")
    a = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "7.1", "Linkedid": "7.1"}
    t.handle(_ev("Newchannel", 0, ChannelState="4", **a))
    t.handle(
        _ev(
            "Newchannel",
            0,
            ChannelState="4",
            Channel="PJSIP/trunk-00000002",
            Uniqueid="8.1",
            Linkedid="8.1",
        )
    )
    out = t.handle(_ev("Newstate", 1, ChannelState="6", **{**a, "Linkedid": "8.1"}))
    assert (out[0].kind, out[0].call.linkedid) == ("ended", "7.1")
    assert "7.1" not in t.calls


@pytest.mark.parametrize(
    "name",
    ["06_click_to_call", "A2_click_to_call_agent_no_answer", "A3_click_to_call_customer_busy"],
)
def test_a_click_to_call_is_from_the_agent_to_the_customer(name: str) -> None:
    """Whatever caller id the Originate (06: the customer's, for the agent's display) and
    the dialplan (the company's outbound number) give the agent's channel: the call is from
    her extension to the customer's number, and her phone's ring is one of its rings."""
    _, events = replay(name)
    for event in events[1:]:
        call = event.call
        assert (call.direction, call.caller_number, call.caller_name) == (
            "outbound", "1001", "Sara Ahmadi",
        ), event.kind  # fmt: skip
        assert call.called_number == call.customer_number == "09121234567"
    ended = events[-1].call
    answered = name != "A2_click_to_call_agent_no_answer"
    (ring,) = ended.rings
    assert (ring.device, ring.result) == ("PJSIP/1001", "answered" if answered else "no_answer")
    assert ring.at < (ring.answered_at or ring.ended_at or 0)


@pytest.mark.parametrize("name", ["06_click_to_call", "A3_click_to_call_customer_busy"])
def test_dialling_comes_before_the_customer_rings_without_a_dial_begin(name: str) -> None:
    """The agent's panel says whom it dials before the customer's phone rings, also when
    the customer leg's DialBegin is not seen (lost, or a PBX that sends none for it)."""
    tracker = CallTracker("pbx1")
    parser = FrameParser()
    out: list[tuple[str, str]] = []
    customer_rang = False
    for chunk, at in trace_chunks(name):
        for frame in parser.feed(chunk):
            if not isinstance(frame, Message):
                continue
            event = event_from_message("pbx1", frame, at)
            if event is None:
                continue
            dest = event.get("DestChannel")
            if event.name == "DialBegin" and dest.startswith("PJSIP/trunk"):
                continue
            if event.name == "Newstate" and event.channel.startswith("PJSIP/trunk"):
                customer_rang = customer_rang or event.get("ChannelState") in ("5", "6")
                if customer_rang and not any(kind == "dialling" for kind, _ in out):
                    raise AssertionError("the customer rang before any dialling event")
            out += [(e.kind, e.call.customer_number) for e in tracker.handle(event)]
    assert [k for k, _ in out].count("dialling") == 1
    assert ("dialling", "09121234567") in out


def test_a_post_call_survey_is_not_talk_time() -> None:
    """04 (a queue call the agent hangs up) as it goes with the post-call survey: the
    caller's channel goes on for 45 s of questions after the agent hung up, then the caller
    hangs up. The agent is free when the caller goes on alone; talk time ends with the
    agent; the agent hung up; the call ends with the caller."""
    plain = CallTracker("p")
    [before] = [
        o.call
        for e in trace_events("04_queue_answered")
        for o in plain.handle(e)
        if o.kind == "ended"
    ]
    survey, at = with_survey("04_queue_answered", "PJSIP/1002-", 45.0)
    tracker = CallTracker("p")
    out = [o for e in survey for o in tracker.handle(e)]
    released = [o for o in out if o.kind == "released"]
    assert [(o.device, o.call.live) for o in released] == [(before.answered_by, True)]
    assert released[0].call.released_at == pytest.approx(at)
    assert [o.kind for o in out][-2:] == ["released", "ended"]
    [after] = [o.call for o in out if o.kind == "ended"]
    assert before.hung_up_by == after.hung_up_by == "agent"
    assert after.ended_at == pytest.approx(before.ended_at + 45.0)  # type: ignore[operator]
    assert after.talk_seconds == pytest.approx(before.talk_seconds, abs=0.01)
    assert after.outcome == before.outcome == "answered"
    assert after.answered_by == before.answered_by
    # Without the survey the PBX hangs the caller up at once: no "released", just the end.
    assert "released" not in [
        o.kind for e in trace_events("04_queue_answered") for o in CallTracker("q").handle(e)
    ]


def test_the_survey_on_a_real_asterisk() -> None:
    """L7: 1001 answered a queue call and hung up, and Asterisk kept the caller for
    [tamas-survey] (keys 4 then 2) until they hung up. The agent is released when the
    caller's channel goes on in the dialplan; talk time ends with the agent's hangup, as
    the phones saw it; the agent hung up first."""
    truth = trace_facts("L7_survey")
    events = trace_events("L7_survey")
    agent_left = next(
        e.at for e in events if e.name == "Hangup" and e.channel.startswith("PJSIP/1001-")
    )
    caller_left = next(
        e.at for e in events if e.name == "Hangup" and e.channel.startswith("PJSIP/customer-")
    )
    assert caller_left - agent_left > 2.5  # the survey took its time
    tracker = CallTracker("p")
    out = [o for e in events for o in tracker.handle(e)]
    released = [o for o in out if o.kind == "released"]
    assert [o.device for o in released] == ["PJSIP/1001"]
    assert agent_left <= released[0].call.released_at <= agent_left + 0.1  # type: ignore[operator]
    [ended] = [o.call for o in out if o.kind == "ended"]
    assert ended.ended_at == caller_left
    assert ended.answered_at is not None
    assert ended.answered_at + ended.talk_seconds == pytest.approx(agent_left, abs=0.05)
    assert ended.talk_seconds == pytest.approx(truth["crm_call_log"]["talk_s"], abs=0.2)
    assert ended.hung_up_by == truth["crm_call_log"]["hung_up_by"] == "agent"


def test_the_attended_transfer_on_a_real_asterisk() -> None:
    """L9: 1001 held the caller, called 1003 and sent REFER with Replaces. The caller's call
    is answered by 1001 and handed to 1003; the consultation is one internal call, 1001 to
    1003, answered by 1003; the caller hung up the call that was left."""
    tracker, events = replay("L9_attended_transfer")
    assert tracker.calls == {}
    calls = [e.call for e in ended_calls(events)]
    [customer] = [c for c in calls if c.direction == "inbound"]
    [consult] = [c for c in calls if c.direction == "internal"]
    assert [(t.kind, t.from_device, extension_of(t.to)) for t in customer.transfers] == [
        ("attended", "PJSIP/1001", "1003")
    ]
    assert customer.hung_up_by == "customer"
    assert sorted(r.extension for r in customer.rings) == ["1001", "1003"]
    assert (consult.answered_by, consult.outcome) == ("PJSIP/1003", "answered")
    assert consult.started_at > customer.answered_at  # type: ignore[operator]
