"""Replaying a recorded ``.ami`` stream to the connected clients, bytes untouched.

The recorded ``recv()`` pieces are written one by one, so a client's framing sees the
stream cut where the recording was cut. ``split`` cuts it finer (every N bytes) to test a
client's framing against cuts inside lines and UTF-8 characters, which the recordings'
event streams happen not to contain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from telephony.simulator.broadcast import Broadcaster
from telephony.simulator.protocol import TERMINATOR, Splitter
from telephony.simulator.trace import Recording

log = logging.getLogger(__name__)

Pace = Literal["recorded", "max"] | float


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    time: float


def pieces(recording: Recording, split: int | None = None) -> list[Piece]:
    """The playable part of the recording as it was received (or cut every ``split``
    bytes), each piece with the time its chunk arrived."""
    out: list[Piece] = []
    for chunk in recording.chunks:
        start, end = max(chunk.offset, recording.start), min(chunk.end, recording.end)
        if start >= end:
            continue
        if split is None:
            out.append(Piece(start, end, chunk.time))
            continue
        out.extend(Piece(s, min(s + split, end), chunk.time) for s in range(start, end, split))
    return out


def speed_of(pace: Pace) -> float | None:
    """Speed factor of a pace: 1.0 for "recorded", None for "max" (no waiting)."""
    if pace == "recorded":
        return 1.0
    if pace == "max":
        return None
    if isinstance(pace, (int, float)) and pace > 0:
        return float(pace)
    raise ValueError(f"pace must be 'recorded', 'max' or a positive speed factor, not {pace!r}")


class Replay:
    """One replay. It runs from where it stands to the end (or to ``until``, a recorded
    unix time as in the ``.idx``: everything received at or before it, completed to the
    end of the message under way). ``resume`` carries on from there."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        recording: Recording,
        flow: Callable[[], Awaitable[None]],
        *,
        pace: Pace = "recorded",
        loop: bool = False,
        split: int | None = None,
    ):
        if split is not None and split < 1:
            raise ValueError("split must be at least 1 byte")
        self.recording = recording
        self.speed = speed_of(pace)
        self.loop = loop
        self.loops = 0
        self.interrupted = False
        self._broadcaster = broadcaster
        self._flow = flow
        self._pieces = pieces(recording, split)
        self._index = 0  # next piece
        self._pos = recording.start  # next byte to send
        self._splitter = Splitter()
        self._last_time = 0.0
        self._task: asyncio.Task[None] | None = None
        self._paused = asyncio.Event()
        self._finished = False

    @property
    def offset(self) -> int:
        """The next byte of the recording to send."""
        return self._pos

    @property
    def finished(self) -> bool:
        return self._finished

    def start(self, until: float | None = None) -> Replay:
        if self.running:
            raise RuntimeError("this replay is already running")
        if self._finished or self.interrupted:
            raise RuntimeError("this replay has finished or was interrupted")
        self._paused.clear()
        self._task = asyncio.create_task(
            self._run(until), name=f"pbx-sim replay {self.recording.name}"
        )
        return self

    resume = start

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        """Until the replay ends, stops at its ``until`` or is interrupted."""
        await self._paused.wait()
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.result()  # re-raise a failure

    def abandon(self) -> None:
        """Give up a replay that is not running (stopped at its ``until``): it stands at a
        message boundary, so nothing is left half sent."""
        if self.running:
            raise RuntimeError("cancel a running replay instead")
        if not self._finished:
            self.interrupted = True
        self._paused.set()

    async def cancel(self) -> None:
        """Stop for good (a restart, the simulator stopping), at the end of the message
        under way: no client is left inside a message."""
        if not self._finished:
            self.interrupted = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._complete_message(self._last_time)
        self._paused.set()

    async def _run(self, until: float | None) -> None:
        try:
            while True:
                await self._play(until)
                if self._index < len(self._pieces) or not self.loop:
                    break
                self.loops += 1
                self._index, self._pos = 0, self.recording.start
            if self._index >= len(self._pieces):
                self._finished = True
        finally:
            self._paused.set()

    async def _play(self, until: float | None) -> None:
        loop = asyncio.get_running_loop()
        data = self.recording.data
        first: float | None = None
        began = loop.time()
        while self._index < len(self._pieces):
            piece = self._pieces[self._index]
            if until is not None and piece.time > until:
                self._complete_message(piece.time)
                return
            if first is None:
                first = piece.time
            if self.speed is not None:
                delay = began + (piece.time - first) / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._send(data[max(piece.start, self._pos) : piece.end], piece.time)
            self._pos = piece.end
            self._index += 1
            await self._flow()

    def _complete_message(self, at: float) -> None:
        """Stopping early: never leave a client inside a message."""
        if self._splitter.at_boundary:
            return
        data = self.recording.data
        stop = data.find(TERMINATOR, max(self._pos - 3, self.recording.start), self.recording.end)
        if stop < 0:
            return
        end = stop + len(TERMINATOR)
        self._send(data[self._pos : end], at)
        self._pos = end
        while self._index < len(self._pieces) and self._pieces[self._index].end <= end:
            self._index += 1

    def _send(self, piece: bytes, at: float) -> None:
        self._last_time = at
        messages, first_end = self._splitter.feed(piece)
        self._broadcaster.stream(piece, messages, first_end, self._splitter.at_boundary, at)
