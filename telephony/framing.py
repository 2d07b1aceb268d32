"""AMI framing at the byte level (pure: no socket).

Asterisk writes ``Key: Value\\r\\n`` lines and ends each message with an empty line. TCP
delivers that stream in arbitrary pieces: a read can end inside a line or inside a multi-byte
UTF-8 character (a Persian caller name is two bytes a letter). So bytes are buffered until a
whole message is there, and only then decoded, as UTF-8 (AMI declares no character set;
Asterisk passes SIP display names through as the bytes it received).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

BANNER_PREFIX = b"Asterisk Call Manager/"
TERMINATOR = b"\r\n\r\n"
# A real message is a few kB at most (a big Command output perhaps 100 kB).
DEFAULT_MAX_MESSAGE = 1 << 20


@dataclass(frozen=True, slots=True)
class Banner:
    version: str


@dataclass(frozen=True, slots=True)
class Message:
    """One AMI message. Keys keep their order; a key may repeat (``Output:``,
    ``ChanVariable:``). Look-ups ignore case, as Asterisk's own do."""

    pairs: tuple[tuple[str, str], ...]
    # Lines that were not ``Key: Value`` (counted, kept for a Command's free-form output).
    stray_lines: tuple[str, ...] = ()
    # True when the bytes were not valid UTF-8 (decoded with U+FFFD in their place).
    bad_utf8: bool = False
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = self._index
        for key, value in reversed(self.pairs):
            index[key.lower()] = value

    def get(self, key: str, default: str = "") -> str:
        return self._index.get(key.lower(), default)

    def getall(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.pairs if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


@dataclass(frozen=True, slots=True)
class FrameError:
    """Bytes that could not be a message: what and how many, so it can be counted and
    logged; the stream goes on."""

    reason: str
    size: int


Frame = Banner | Message | FrameError


def parse_message(raw: bytes) -> Message | FrameError:
    """One message's bytes (without the terminating empty line) to a :class:`Message`."""
    try:
        text = raw.decode("utf-8")
        bad = False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        bad = True
    pairs: list[tuple[str, str]] = []
    stray: list[str] = []
    # The hot path of the listener: plain string operations, no regular expressions.
    for line in text.split("\r\n") if "\r\n" in text else text.split("\n"):
        if not line:
            continue
        colon = line.find(":")
        key = line[:colon]
        if colon <= 0 or " " in key:
            stray.append(line.rstrip("\r"))
            continue
        value = line[colon + 1 :]
        pairs.append((key, value[1:] if value.startswith(" ") else value))
    if not pairs:
        return FrameError(f"no 'Key: Value' line in {len(raw)} bytes", len(raw))
    return Message(pairs=tuple(pairs), stray_lines=tuple(stray), bad_utf8=bad)


class FrameParser:
    """Feed it bytes as they arrive; get back whole frames in order."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._at_start = True
        self._discarding = False

    def reset(self) -> None:
        """A new connection: forget any partial message and expect a banner again."""
        self._buffer.clear()
        self._at_start = True
        self._discarding = False

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        return list(self._drain())

    def _drain(self) -> Iterator[Frame]:
        buf = self._buffer
        if self._at_start:
            # The banner is one line with no empty line after it.
            if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buf)):
                return
            self._at_start = False
            if buf.startswith(BANNER_PREFIX):
                end = buf.find(b"\r\n")
                if end < 0:
                    self._at_start = True
                    return
                version = bytes(buf[len(BANNER_PREFIX) : end]).decode("utf-8", "replace")
                del buf[: end + 2]
                yield Banner(version.strip())
        start = 0
        while True:
            end = buf.find(TERMINATOR, start)
            if end < 0:
                break
            raw = bytes(buf[start:end])
            start = end + len(TERMINATOR)
            if self._discarding:
                # The tail of an oversized message: its end is here, the next one is whole.
                self._discarding = False
                continue
            # Asterisk sometimes adds a stray CRLF between messages; it is not a message.
            raw = raw.lstrip(b"\r\n")
            if not raw:
                continue
            yield parse_message(raw)
        del buf[:start]
        if len(buf) > self.max_message:
            # No terminator in sight: drop what we have rather than grow without bound; the
            # message it belongs to is lost and reported, the stream resynchronises at the
            # next empty line.
            size = len(buf)
            # Keep the last 3 bytes: they may be the start of the terminator.
            del buf[:-3]
            self._discarding = True
            yield FrameError(f"message longer than {self.max_message} bytes dropped", size)
