"""AMI framing at the byte level (pure: no socket).

Asterisk writes ``Key: Value\\r\\n`` lines and ends each message with an empty line. TCP
delivers that stream in arbitrary pieces: a read can end inside a line or inside a multi-byte
UTF-8 character (a Persian caller name is two bytes a letter). So bytes are buffered until a
whole message is there, and only then decoded, as UTF-8 (AMI declares no character set;
Asterisk passes SIP display names through as the bytes it received).
"""

from __future__ import annotations

from dataclasses import dataclass

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


# What a key is searched for in a message's lowered bytes: a line starting with it and a
# colon; b"" for a key no line can have (empty, a space or a colon in it), None for one
# that is not plain ASCII (looked up in a table of the pairs). Bounded like _LOWER.
_NEEDLES: dict[str, bytes | None] = {}


def _needle(key: str) -> bytes | None:
    if key in _NEEDLES:
        return _NEEDLES[key]
    needle: bytes | None = None
    if key.isascii():
        usable = key and " " not in key and ":" not in key
        needle = b"\r\n" + key.lower().encode("ascii") + b":" if usable else b""
    if len(_NEEDLES) < _LOWER_MAX:
        _NEEDLES[key] = needle
    return needle


class Message:
    """One AMI message. Keys keep their order; a key may repeat (``Output:``,
    ``ChanVariable:``). Look-ups ignore case, as Asterisk's own do, and give the first value
    of a key.

    A message framed from the stream (``parse_message``) keeps its bytes and finds a key
    when asked: the first line that starts with it (ASCII letters compared without case,
    as Asterisk's strcasecmp does) in the bytes lowered once, its value decoded alone.
    ``pairs`` and ``stray_lines`` are split out only if someone wants them. An event is
    asked for a handful of keys, most events are dropped right after (a CEL, a Newexten),
    and a line-by-line parse with a tuple per line was most of the listener's parsing and
    of its garbage collector's work. Immutable once made."""

    __slots__ = ("_event", "_index", "_low", "_pairs", "_raw", "_stray", "bad_utf8")

    _raw: bytes | None  # CRLF and the message's bytes (every line then follows a CRLF)
    _low: bytes | None  # the same, ASCII letters lowered
    _pairs: tuple[tuple[str, str], ...] | None
    _stray: tuple[str, ...] | None
    bad_utf8: bool  # the bytes were not valid UTF-8 (decoded with U+FFFD in their place)
    _index: dict[str, str] | None
    _event: str | None  # the Event, when the first line says it

    def __init__(
        self,
        pairs: tuple[tuple[str, str], ...],
        stray_lines: tuple[str, ...] = (),
        bad_utf8: bool = False,
    ) -> None:
        self._raw = self._low = None
        self._pairs = tuple(pairs)
        # Lines that were not ``Key: Value`` (counted, kept for a Command's free-form output).
        self._stray = tuple(stray_lines)
        self.bad_utf8 = bad_utf8
        self._index = None
        self._event = None

    @classmethod
    def _of_bytes(cls, raw: bytes, event: str | None) -> Message:
        """A message of valid UTF-8 ``raw``, CRLF lines, read when asked; ``event`` its
        Event when its first line is one (the first value of the key)."""
        self = cls.__new__(cls)
        self._raw = raw = b"\r\n" + raw
        self._low = raw.lower()
        self._pairs = self._stray = self._index = None
        self.bad_utf8 = False
        self._event = event
        return self

    def _split(self) -> None:
        assert self._raw is not None
        text = self._raw[2:].decode("utf-8", errors="replace")
        self._pairs, self._stray = _split_lines(text)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        if self._pairs is None:
            self._split()
        assert self._pairs is not None
        return self._pairs

    @property
    def stray_lines(self) -> tuple[str, ...]:
        if self._stray is None:
            self._split()
        assert self._stray is not None
        return self._stray

    def _find(self, needle: bytes) -> tuple[int, int] | None:
        """Where the first value of the key of ``needle`` is in ``_raw`` (start, end)."""
        raw, low = self._raw, self._low
        assert raw is not None and low is not None
        at = low.find(needle) if needle else -1
        if at < 0:
            return None
        start = at + len(needle)
        if raw.startswith(b" ", start):
            start += 1
        end = raw.find(b"\r\n", start)
        return start, end if end >= 0 else len(raw)

    def _table(self) -> dict[str, str]:
        # Last pair first, so that the first value of a key is the one kept.
        index: dict[str, str] = {}
        known = _LOWER.get
        for key, value in reversed(self.pairs):
            index[known(key) or _lower(key)] = value
        self._index = index
        return index

    def get(self, key: str, default: str = "") -> str:
        low = self._low
        if low is not None:
            # The hot path (see _find, written out).
            needle = _NEEDLES.get(key) or _needle(key)
            if needle is not None:
                at = low.find(needle) if needle else -1
                if at < 0:
                    return default
                raw = self._raw
                assert raw is not None
                start = at + len(needle)
                if raw.startswith(b" ", start):
                    start += 1
                end = raw.find(b"\r\n", start)
                return (raw[start:end] if end >= 0 else raw[start:]).decode("utf-8")
        index = self._index
        if index is None:
            index = self._table()
        known = _LOWER.get(key)
        return index.get(known if known is not None else _lower(key), default)

    def getall(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.pairs if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self._raw is not None:
            needle = _needle(key)
            if needle is not None:
                return self._find(needle) is not None
        index = self._index
        if index is None:
            index = self._table()
        return _lower(key) in index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.pairs, self.stray_lines, self.bad_utf8) == (
            other.pairs,
            other.stray_lines,
            other.bad_utf8,
        )

    def __hash__(self) -> int:
        return hash((self.pairs, self.stray_lines, self.bad_utf8))

    def __repr__(self) -> str:
        return (
            f"Message(pairs={self.pairs!r}, stray_lines={self.stray_lines!r},"
            f" bad_utf8={self.bad_utf8!r})"
        )

    @property
    def event(self) -> str:
        event = self._event
        return event if event is not None else self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


def _split_lines(text: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """A message's ``Key: Value`` pairs and its other lines."""
    pairs: list[tuple[str, str]] = []
    stray: list[str] = []
    for line in text.split("\r\n") if "\r\n" in text else text.split("\n"):
        if not line:
            continue
        key, colon, value = line.partition(":")
        if not key or not colon or " " in key:
            stray.append(line.rstrip("\r"))
            continue
        pairs.append((key, value.removeprefix(" ")))
    return tuple(pairs), tuple(stray)


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
    if not bad:
        # The hot path of the listener: the lines are read when the message is asked
        # (Message._of_bytes). Only whether there is a ``Key: Value`` line at all is decided
        # now, and the first line almost always is one.
        end = text.find("\r\n")
        if end > 0:
            key, colon, value = text[:end].partition(":")
            if key and colon and " " not in key:
                event = value.removeprefix(" ") if key.lower() == "event" else None
                return Message._of_bytes(raw, event)
    pairs, stray = _split_lines(text)
    if not pairs:
        return FrameError(f"no 'Key: Value' line in {len(raw)} bytes", len(raw))
    return Message(pairs=pairs, stray_lines=stray, bad_utf8=bad)


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
