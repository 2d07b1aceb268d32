"""Feed a recorded trace to the tracker the way the listener would: frames parsed from the
recorded chunks, each stamped with the time its last byte arrived."""

from __future__ import annotations

from collections.abc import Callable

from telephony.events import AmiEvent, event_from_message
from telephony.framing import FrameParser, Message
from telephony.model import CallEvent
from telephony.tracker import CallTracker
from tests.telephony.traces import trace_bytes, trace_chunks


def replay(
    name: str, pbx: str = "pbx1", *, is_internal: Callable[[str], bool] | None = None
) -> tuple[CallTracker, list[CallEvent]]:
    tracker = CallTracker(pbx) if is_internal is None else CallTracker(pbx, is_internal=is_internal)
    parser = FrameParser()
    out: list[CallEvent] = []
    for chunk, at in trace_chunks(name):
        for frame in parser.feed(chunk):
            if isinstance(frame, Message):
                event = event_from_message(pbx, frame, at)
                if event is not None:
                    out += tracker.handle(event)
    return tracker, out


def trace_events(name: str, pbx: str = "p") -> list[AmiEvent]:
    """A trace's events, each stamped with the time its last byte arrived."""
    parser = FrameParser()
    out: list[AmiEvent] = []
    for chunk, at in trace_chunks(name):
        for frame in parser.feed(chunk):
            if isinstance(frame, Message) and (event := event_from_message(pbx, frame, at)):
                out.append(event)
    return out


def with_survey(
    name: str, agent: str, seconds: float, pbx: str = "p"
) -> tuple[list[AmiEvent], float]:
    """A trace whose agent (channel name prefix) hangs up, as it goes with the post-call
    survey: the caller's channel is not hung up by the bridge but goes on in the dialplan
    (Newexten into [tamas-survey]) and hangs up ``seconds`` later. The events, and when the
    agent hung up."""
    events = trace_events(name, pbx)
    left = next(
        i for i, e in enumerate(events) if e.name == "Hangup" and e.get("Channel").startswith(agent)
    )
    at = events[left].at
    trunk = next(e for e in events if e.get("Channel").startswith("PJSIP/trunk-"))
    block = {k: trunk.get(k) for k in ("Channel", "Uniqueid", "Linkedid")}
    goes_on = _event(pbx, "Newexten", at + 0.01, **block, Context="tamas-survey", Extension="s",
                     Priority="1", Application="Answer")  # fmt: skip
    out = [*events[: left + 1], goes_on]
    for e in events[left + 1 :]:
        if e.name == "SoftHangupRequest":
            continue  # not hung up by the bridge: the caller goes on
        if e.name == "Hangup" and e.get("Channel") == block["Channel"]:
            out.append(_event(pbx, "HangupRequest", e.at + seconds, **block))
        out.append(AmiEvent(pbx, e.name, e.msg, e.at + seconds))
    return out, at


def ended_calls(events: list[CallEvent]) -> list[CallEvent]:
    return [e for e in events if e.kind == "ended"]


def _event(pbx: str, name: str, at: float, **fields: str) -> AmiEvent:
    pairs = (("Event", name), *((k, v) for k, v in fields.items() if k != "Event"))
    return AmiEvent(pbx, name, Message(pairs=pairs), at)


def declined_click_to_call(
    ref: str, *, hangup_first: bool, cause: str = "17", dial_end: str = "", pbx: str = "p"
) -> list[AmiEvent]:
    """A2 (Tamas's Originate rang 1001) as it goes when the phone answers 486 (cause 17) or
    603 (cause 21): the agent's channel rang and hung up, and the OriginateResponse says
    Failure with Reason 0. Tamas's variables tag the channel as its Originate sets them.
    ``hangup_first``: the Hangup before the OriginateResponse (the order is not fixed)."""
    parser = FrameParser()
    frames = parser.feed(trace_bytes("A2_click_to_call_agent_no_answer"))
    events = [e for f in frames if isinstance(f, Message) if (e := event_from_message(pbx, f, 0.0))]
    out: list[AmiEvent] = []
    at = 0.0
    for event in events:
        at += 0.5
        fields = dict(event.msg.pairs)
        if event.name == "Newchannel":
            out.append(_event(pbx, event.name, at, **fields))
            block = {k: fields[k] for k in ("Channel", "Uniqueid", "Linkedid")}
            out.append(
                _event(pbx, "VarSet", at, Variable="__TAMAS_ORIGINATION", Value=ref, **block)
            )
            out.append(
                _event(pbx, "VarSet", at, Variable="__TAMAS_NUMBER", Value="09121234567", **block)
            )
            continue
        if event.name == "OriginateResponse":
            fields.update(ActionID=ref, Reason="0")
        elif event.name == "Hangup":
            fields.update({"Cause": cause, "Cause-txt": "User busy", "TechCause": "486"})
            if dial_end:
                out.append(
                    _event(
                        pbx,
                        "DialEnd",
                        at,
                        DestChannel=fields["Channel"],
                        DestUniqueid=fields["Uniqueid"],
                        DestLinkedid=fields["Linkedid"],
                        DialStatus=dial_end,
                    )
                )
        out.append(_event(pbx, event.name, at, **fields))
    names = [e.name for e in out]
    response, hangup = names.index("OriginateResponse"), names.index("Hangup")
    assert response < hangup, "A2 has the OriginateResponse first"
    if hangup_first:
        # The agent channel's end (its DialEnd too, when there is one) before the answer.
        start = hangup - 1 if dial_end else hangup
        out[response:response] = [out.pop(start) for _ in range(start, hangup + 1)]
    return out
