"""panoramisk's protocol with Tamas's byte-level framing.

panoramisk's stock ``AMIProtocol.data_received`` decodes every TCP read on its own and drops
what does not decode, so a multi-byte character cut by a read (a Persian caller name) is
lost. This protocol buffers bytes until a whole message is there (``telephony.framing``) and
hands panoramisk whole, correctly decoded messages; panoramisk's action/response machinery
is unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message as PanoramiskMessage

from telephony.framing import Banner, FrameError, FrameParser, Message

logger = logging.getLogger(__name__)

_VIA = frozenset({"Shutdown", "FullyBooted"})


def to_panoramisk(msg: Message) -> PanoramiskMessage:
    headers: dict[str, Any] = {}
    for key, value in msg.pairs:
        if key in headers:
            previous = headers[key]
            headers[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            headers[key] = value
    content = "\n".join(msg.stray_lines)
    result = PanoramiskMessage(headers, content)
    # The original, for Tamas's own handling: the framing message and when it arrived.
    result.frame = msg
    return result


class LogBudget:
    """At most ``most`` log lines a ``window`` of seconds for one kind of trouble; what is
    held back is counted and said once the next line may be written. A PBX sending garbage
    (a wrong port, a broken module) must not fill the disk with the same warning; the
    counter in /health and /metrics still counts every bad frame."""

    def __init__(self, most: int = 10, window: float = 60.0) -> None:
        self.most, self.window = most, window
        self._start = 0.0
        self._used = 0
        self.held_back = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._start >= self.window:
            if self.held_back:
                logger.warning(
                    "%d more bad AMI frames were not logged in the last %.0f s",
                    self.held_back,
                    self.window,
                )
            self._start, self._used, self.held_back = now, 0, 0
        if self._used < self.most:
            self._used += 1
            return True
        self.held_back += 1
        return False


class TamasAMIProtocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.parser = FrameParser()
        self.last_received = time.monotonic()
        self.received_at = time.time()
        self.malformed = 0
        self.log_budget = LogBudget()

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        # One receive time for every message completed by this read.
        self.received_at = received_at = time.time()
        on_event = getattr(self.factory, "on_event_frame", None)
        for frame in self.parser.feed(data):
            try:
                self._frame_received(frame, on_event, received_at)
            except Exception:
                # An exception out of data_received makes asyncio close the connection, losing
                # the rest of this read and forcing a reconnect and a resync. A message that
                # cannot be handled (panoramisk expects one ActionID, one Event: a repeated
                # one is a list it cannot hash) is malformed: counted, and the stream goes on.
                self.malformed += 1
                if self.log_budget.allow():
                    logger.exception("skipped an AMI message that could not be handled")

    def _frame_received(
        self, frame: Banner | Message | FrameError, on_event: Any, received_at: float
    ) -> None:
        if isinstance(frame, Banner):
            self.version = frame.version
            logger.info("AMI banner: Asterisk Call Manager/%s", frame.version)
        elif isinstance(frame, FrameError):
            self.malformed += 1
            if self.log_budget.allow():
                logger.warning("skipped a malformed AMI frame: %s", frame.reason)
        else:
            if frame.bad_utf8 and self.log_budget.allow():
                logger.warning("an AMI message was not valid UTF-8; decoded with U+FFFD")
            name = frame.event
            if on_event is not None and name and not frame.action_id and name not in _VIA:
                # The hot path: a plain event goes straight to Tamas, without building
                # panoramisk's message. Actions' answers, Shutdown and FullyBooted still
                # go through panoramisk: it matches answers to actions, reconnects on
                # Shutdown and re-sends waiting actions on FullyBooted.
                on_event(frame, received_at)
                return
            message = to_panoramisk(frame)
            message.received_at = received_at
            if "Event" not in message and "Response" not in message:
                self.malformed += 1
                if self.log_budget.allow():
                    logger.warning("skipped an AMI message with neither Event nor Response")
                return
            self.handle_message(message)
