"""Raw AMI messages to typed events (pure).

Every event carries the PBX it came from and the time Tamas received it: most AMI events have
no timestamp of their own (``EventTV`` only when ``timestampevents`` is on), so the receive
time is the clock. When an event does carry ``Timestamp``, that is used instead.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from telephony.framing import Message

UNKNOWN = "<unknown>"
# PJSIP/1001-0000002a, SIP/trunk-00000001, IAX2/peer-1234, DAHDI/i1/0912...-5
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+$")
_LOCAL = re.compile(r"^Local/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AmiEvent:
    pbx: str
    name: str
    msg: Message
    at: float

    def get(self, key: str, default: str = "") -> str:
        value = self.msg.get(key, default)
        return default if value == UNKNOWN else value

    @property
    def channel(self) -> str:
        return self.get("Channel")

    @property
    def uniqueid(self) -> str:
        return self.get("Uniqueid")

    @property
    def linkedid(self) -> str:
        return self.get("Linkedid")


def event_from_message(pbx: str, msg: Message, received_at: float) -> AmiEvent | None:
    """The typed event of a message, or None for a message that is not an event."""
    name = msg.event
    if not name:
        return None
    at = received_at
    stamp = msg.get("Timestamp")
    if stamp:
        with contextlib.suppress(ValueError):
            at = float(stamp)
    return AmiEvent(pbx=pbx, name=name, msg=msg, at=at)


def device_of(channel: str) -> str:
    """The device a channel belongs to: ``PJSIP/1001-0000002a`` -> ``PJSIP/1001``."""
    if not channel:
        return ""
    if _LOCAL.match(channel):
        return channel.split(";", 1)[0]
    name = _CHANNEL_SUFFIX.sub("", channel)
    tech, _, resource = name.partition("/")
    return f"{tech.upper()}/{resource}" if resource else name


def is_local(channel: str) -> bool:
    return bool(_LOCAL.match(channel))


def extension_of(device: str) -> str:
    """``PJSIP/1001`` -> ``1001``."""
    return device.partition("/")[2] or device
