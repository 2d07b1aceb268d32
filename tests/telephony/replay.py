"""Feed a recorded trace to the tracker the way the listener would: frames parsed from the
recorded chunks, each stamped with the time its last byte arrived."""

from __future__ import annotations

from collections.abc import Callable

from telephony.events import event_from_message
from telephony.framing import FrameParser, Message
from telephony.model import CallEvent
from telephony.tracker import CallTracker
from tests.telephony.traces import trace_chunks


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


def ended_calls(events: list[CallEvent]) -> list[CallEvent]:
    return [e for e in events if e.kind == "ended"]
