"""A recorded AMI stream: the ``.ami`` bytes and the ``.ami.idx`` chunk index beside it.

The format is the one in ``tests/fixtures/ami/README.md``: every byte the PBX sent on one
connection, from the banner to the ``Response: Goodbye`` of the recorder's Logoff, and one
index row per ``recv()`` chunk (``offset<TAB>length<TAB>unix_time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from telephony.simulator.protocol import TERMINATOR

BANNER_PREFIX = b"Asterisk Call Manager/"


@dataclass(frozen=True, slots=True)
class Chunk:
    offset: int
    length: int
    time: float

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    start: int
    end: int  # offset just past the terminating empty line
    raw: bytes  # without the terminator
    time: float  # when the chunk holding its last byte arrived


@dataclass(frozen=True)
class Recording:
    name: str
    data: bytes
    chunks: tuple[Chunk, ...]
    # The part a replay sends: after the recorder's own login, before its Goodbye.
    start: int
    end: int

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Read ``NAME.ami`` and, when present, ``NAME.ami.idx``. Without an index the whole
        file counts as one chunk (fine for ``pace="max"``)."""
        data = path.read_bytes()
        index = path.with_name(path.name + ".idx")
        if index.exists():
            chunks = tuple(_parse_index(index.read_text(), len(data), index.name))
        else:
            chunks = (Chunk(0, len(data), 0.0),)
        start, end = _playable_range(data)
        return cls(path.name.removesuffix(".ami"), data, chunks, start, end)

    def time_at(self, offset: int) -> float:
        """When the byte at ``offset`` arrived."""
        for chunk in self.chunks:
            if chunk.offset <= offset < chunk.end:
                return chunk.time
        return self.chunks[-1].time

    def messages(self) -> list[RecordedMessage]:
        """The messages of the playable part, each with its arrival time."""
        out: list[RecordedMessage] = []
        pos = self.start
        chunk_iter = iter(self.chunks)
        chunk = next(chunk_iter)
        while pos < self.end:
            stop = self.data.find(TERMINATOR, pos, self.end)
            if stop < 0:
                break
            last = stop + len(TERMINATOR) - 1
            while last >= chunk.end:
                chunk = next(chunk_iter)
            out.append(RecordedMessage(pos, last + 1, self.data[pos:stop], chunk.time))
            pos = last + 1
        return out


def _parse_index(text: str, size: int, name: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    expected = 0
    for number, row in enumerate(text.splitlines(), 1):
        if not row.strip():
            continue
        offset, length, when = row.split("\t")
        chunk = Chunk(int(offset), int(length), float(when))
        if chunk.offset != expected:
            raise ValueError(f"{name} line {number}: offset {chunk.offset}, expected {expected}")
        chunks.append(chunk)
        expected = chunk.end
    if expected != size:
        raise ValueError(f"{name}: the chunks cover {expected} bytes, the recording has {size}")
    return chunks


def _playable_range(data: bytes) -> tuple[int, int]:
    """Skip what belonged to the recorder's own session: the banner, the response to its
    Login and the FullyBooted that Asterisk sends right after a login (the simulator sends
    its own banner, login response and FullyBooted to each client); and drop the final
    ``Response: Goodbye`` that answered the recorder's Logoff."""
    start = 0
    if data.startswith(BANNER_PREFIX):
        start = data.index(b"\r\n") + 2
    first = _message_at(data, start)
    if first is not None and _is_login_response(first[0]):
        start = first[1]
        booted = _message_at(data, start)
        if booted is not None and booted[0].startswith(b"Event: FullyBooted\r\n"):
            start = booted[1]
    end = len(data)
    last = data.rfind(TERMINATOR, start, len(data) - len(TERMINATOR))
    tail_start = start if last < 0 else last + len(TERMINATOR)
    if data.startswith(b"Response: Goodbye\r\n", tail_start):
        end = tail_start
    return start, end


def _message_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    stop = data.find(TERMINATOR, pos)
    return None if stop < 0 else (data[pos:stop], stop + len(TERMINATOR))


def _is_login_response(raw: bytes) -> bool:
    return (
        raw.startswith(b"Response: Success\r\n") and b"\r\nMessage: Authentication accepted" in raw
    )
