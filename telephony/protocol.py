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


class TamasAMIProtocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.parser = FrameParser()
        self.last_received = time.monotonic()
        self.received_at = time.time()
        self.malformed = 0

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
                logger.exception("skipped an AMI message that could not be handled")

    def _frame_received(
        self, frame: Banner | Message | FrameError, on_event: Any, received_at: float
    ) -> None:
        if isinstance(frame, Banner):
            self.version = frame.version
            logger.info("AMI banner: Asterisk Call Manager/%s", frame.version)
        elif isinstance(frame, FrameError):
            self.malformed += 1
            logger.warning("skipped a malformed AMI frame: %s", frame.reason)
        else:
            if frame.bad_utf8:
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
                logger.warning("skipped an AMI message with neither Event nor Response")
                return
            self.handle_message(message)
