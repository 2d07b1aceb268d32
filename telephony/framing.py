"""AMI framing at the byte level (pure: no socket).

Asterisk writes ``Key: Value\\r\\n`` lines and ends each message with an empty line. TCP
delivers that stream in arbitrary pieces: a read can end inside a line or inside a multi-byte
UTF-8 character (a Persian caller name is two bytes a letter). So bytes are buffered until a
whole message is there, and only then decoded, as UTF-8 (AMI declares no character set;
Asterisk passes SIP display names through as the bytes it received).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BANNER_PREFIX = b"Asterisk Call Manager/"
TERMINATOR = b"\r\n\r\n"
# A real message is a few kB at most (a big Command output perhaps 100 kB). A message (or a
# line: there is no separate line limit) longer than this is dropped, counted as malformed,
# and the stream resynchronises at the next empty line: the buffer never holds more.
DEFAULT_MAX_MESSAGE = 1 << 20
# Asterisk's banner is ``Asterisk Call Manager/<version>`` (about 30 bytes): a "banner" with
# no line end within this many bytes is not one, and is framed as an ordinary message.
MAX_BANNER = 256

# Keys lowercased once: AMI uses a few hundred distinct keys, and lowercasing a fresh string
# (then hashing the result) for every key of every message was a good part of parsing.
# Bounded, so that a stream of made-up keys cannot grow it.
_LOWER: dict[str, str] = {}
_LOWER_MAX = 4096


def _lower(key: str) -> str:
    low = _LOWER.get(key)
    if low is None:
        low = key.lower()
        if len(_LOWER) < _LOWER_MAX:
            _LOWER[key] = low
    return low


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
        known = _LOWER
        for key, value in reversed(self.pairs):
            low = known.get(key)
            index[low if low is not None else _lower(key)] = value

    def get(self, key: str, default: str = "") -> str:
        low = _LOWER.get(key)
        return self._index.get(low if low is not None else _lower(key), default)

    def getall(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.pairs if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _lower(key) in self._index

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
        key, colon, value = line.partition(":")
        if not key or not colon or " " in key:
            stray.append(line.rstrip("\r"))
            continue
        pairs.append((key, value.removeprefix(" ")))
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
        buf = self._buffer
        # Where a terminator completed by this read could start.
        start = max(0, len(buf) - (len(TERMINATOR) - 1))
        buf += data
        if not self._at_start and buf.find(TERMINATOR, start) < 0:
            # No message ends in this read (a long message dripping in): only the bound to
            # check, without copying and splitting the whole buffer again.
            return self._bound([])
        return self._drain()

    def _drain(self) -> list[Frame]:
        buf = self._buffer
        frames: list[Frame] = []
        if self._at_start:
            # The banner is one line with no empty line after it.
            if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buf)):
                return frames
            self._at_start = False
            if buf.startswith(BANNER_PREFIX):
                # Decided on the first MAX_BANNER bytes only, so that how the stream was cut
                # into reads never changes the outcome (and a banner never grows unbounded).
                end = buf.find(b"\r\n", 0, MAX_BANNER)
                if end < 0 and len(buf) < MAX_BANNER:
                    self._at_start = True
                    return frames
                if end >= 0:
                    version = bytes(buf[len(BANNER_PREFIX) : end]).decode("utf-8", "replace")
                    del buf[: end + 2]
                    frames.append(Banner(version.strip()))
        # One split finds every whole message (the same left-to-right, non-overlapping
        # terminators a search from each message's end finds); the last piece is the start
        # of a message still to come.
        pieces = bytes(buf).split(TERMINATOR)
        rest = pieces.pop()
        if pieces:
            del buf[: len(buf) - len(rest)]
        for raw in pieces:
            if self._discarding:
                # The tail of an oversized message: its end is here, the next one is whole.
                self._discarding = False
                continue
            if len(raw) > self.max_message:
                # Whole, but too long: refused as it would have been had it come in pieces.
                frames.append(self._too_long(len(raw)))
                continue
            # Asterisk sometimes adds a stray CRLF between messages; it is not a message.
            raw = raw.lstrip(b"\r\n")
            if raw:
                frames.append(parse_message(raw))
        return self._bound(frames)

    def _bound(self, frames: list[Frame]) -> list[Frame]:
        buf = self._buffer
        if self._discarding:
            # Still inside a dropped message: nothing of it is kept but the last 3 bytes,
            # which may be the start of the terminator.
            del buf[:-3]
        elif len(buf) > self.max_message + len(TERMINATOR) - 1:
            # No terminator in sight: drop what we have rather than grow without bound; the
            # message it belongs to is lost and reported once, the stream resynchronises at
            # the next empty line. (The slack: the buffer may end with 3 bytes of the
            # terminator of a message of exactly the limit, which is accepted.)
            frames.append(self._too_long(len(buf)))
            del buf[:-3]
            self._discarding = True
        return frames

    def _too_long(self, size: int) -> FrameError:
        return FrameError(f"message longer than {self.max_message} bytes dropped", size)
