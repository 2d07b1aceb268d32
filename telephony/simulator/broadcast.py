"""Client sessions and the event stream they share.

A replayed stream is written in its recorded pieces, and a piece can end inside a message.
Nothing else may then be written to a client until the stream reaches a message boundary
(Asterisk never interleaves two messages), so responses and generated events are held back
until then, and a client that logs in mid-message joins the stream at the next boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from telephony.simulator.protocol import TERMINATOR, event_name, parse_fields
from telephony.simulator.state import RELEVANT_EVENTS, PbxState

log = logging.getLogger(__name__)

Emitted = tuple[bytes, bytes, float]  # raw message (no terminator), event name, stream time
Tap = Callable[[bytes], None]
Rewrite = Mapping[bytes, Callable[[bytes], Sequence[bytes]]]


class Session:
    """One client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int):
        self.reader = reader
        self.writer = writer
        self.number = number
        self.peer = str(writer.get_extra_info("peername"))
        self.authenticated = False
        self.username = ""
        self.wants_events = False
        self.subscribed = False  # joined the stream (at a message boundary)
        self.pending: list[bytes] = []  # responses held while the stream is mid-message
        # Set while the stream is mid-message: what to do once it reaches the boundary.
        self.leaving = False  # Events: off
        self.closing = False  # Logoff
        self.closed = False

    def write(self, data: bytes) -> None:
        if not self.closed and data:
            self.writer.write(data)

    async def drain(self) -> None:
        if self.closed:
            return
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.abort()

    def close(self) -> None:
        """Close after what was written is flushed (Logoff, failed login, restart)."""
        if not self.closed:
            self.closed = True
            self.writer.close()

    def abort(self) -> None:
        """Close at once, dropping anything unsent (a dropped connection)."""
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()


class Broadcaster:
    def __init__(self, state: PbxState):
        self.state = state
        self.sessions: list[Session] = []  # logged in
        self.taps: list[Tap] = []
        self.at_boundary = True
        self.events_sent = 0  # events written to at least one client
        self.events_unheard = 0  # events sent while no client listened
        self._held: list[tuple[bytes, bool]] = []
        self._listening = asyncio.Event()

    # --- sessions -------------------------------------------------------------------

    def add(self, session: Session) -> None:
        self.sessions.append(session)
        self._update_listening()

    def remove(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        self._update_listening()

    def set_events(self, session: Session, on: bool) -> None:
        if not on and self._inside_message(session):
            session.leaving = True  # it has part of a message: it leaves at its end
            return
        session.wants_events = on
        session.subscribed = on and self.at_boundary
        session.leaving = False
        self._update_listening()

    def finish(self, session: Session) -> None:
        """Close ``session`` once its answers are out (Logoff)."""
        if self._inside_message(session):
            session.closing = True
            return
        self.remove(session)
        session.close()

    def _inside_message(self, session: Session) -> bool:
        return session.subscribed and not self.at_boundary

    def listeners(self) -> list[Session]:
        return [s for s in self.sessions if s.wants_events and not s.closed]

    @property
    def has_listeners(self) -> bool:
        return self._listening.is_set()

    async def wait_for_listener(self) -> None:
        await self._listening.wait()

    def _update_listening(self) -> None:
        if self.listeners():
            self._listening.set()
        else:
            self._listening.clear()

    def reset(self) -> None:
        """Every session is gone (dropped, or the PBX restarted). Where the stream stands
        is unchanged: a client that logs in next still joins it at a message boundary."""
        self.sessions.clear()
        self._listening.clear()

    # --- writing --------------------------------------------------------------------

    def respond(self, session: Session, data: bytes) -> None:
        """A response to one client's action."""
        if self._inside_message(session):
            session.pending.append(data)
        else:
            session.write(data)

    def stream(
        self,
        piece: bytes,
        messages: Sequence[bytes],
        first_end: int | None,
        at_boundary: bool,
        at: float,
    ) -> None:
        """A piece of a replayed stream; ``messages`` are those it completed, ``first_end``
        where in the piece the first of them ended."""
        for tap in self.taps:
            tap(piece)
        self.state.tick(at)
        listeners = self.listeners()
        for session in listeners:
            if session.subscribed:
                session.write(piece)
            elif first_end is not None:
                session.write(piece[first_end:])
                session.subscribed = True
        for raw in messages:
            name = event_name(raw)
            if name is None:
                continue
            if listeners:
                self.events_sent += 1
            else:
                self.events_unheard += 1
            if name in RELEVANT_EVENTS:
                self.state.observe(name, parse_fields(raw), at)
        self.at_boundary = at_boundary
        if at_boundary:
            self._release()

    def emit(self, batch: Sequence[Emitted], rewrite: Rewrite | None = None) -> None:
        """Whole events (generated traffic, simulator events). ``rewrite`` maps an event
        name to what replaces such an event (none, one or more events) as it goes out, once
        the events before it have been taken in."""
        if batch:
            self.state.tick(batch[-1][2])
        if rewrite is None:
            raws = [raw for raw, _, _ in batch]
            for raw, name, at in batch:
                if name in RELEVANT_EVENTS:
                    self.state.observe(name, parse_fields(raw), at)
        else:
            raws = []
            for raw, name, at in batch:
                for new in rewrite[name](raw) if name in rewrite else (raw,):
                    if name in RELEVANT_EVENTS:
                        self.state.observe(name, parse_fields(new), at)
                    raws.append(new)
        if not raws:
            return
        if self.listeners():
            self.events_sent += len(raws)
        else:
            self.events_unheard += len(raws)
        self.send_whole(TERMINATOR.join(raws) + TERMINATOR)

    def send_whole(self, data: bytes, *, everyone: bool = False) -> None:
        """Bytes that start and end on a message boundary; to the event listeners, or to
        every logged-in client (garbage on command)."""
        if not self.at_boundary:
            self._held.append((data, everyone))
            return
        self._write_whole(data, everyone)

    def _write_whole(self, data: bytes, everyone: bool) -> None:
        for tap in self.taps:
            tap(data)
        for session in self.sessions if everyone else self.listeners():
            session.write(data)

    def _release(self) -> None:
        for session in list(self.sessions):
            if session.pending:
                session.write(b"".join(session.pending))
                session.pending.clear()
            if session.closing:
                self.finish(session)
            elif session.leaving:
                self.set_events(session, False)
        held, self._held = self._held, []
        for data, everyone in held:
            self._write_whole(data, everyone)

    async def flow(self) -> None:
        """Wait for slow clients: the stream goes as fast as the sockets take it, no faster.
        Yields to the loop even when no socket is full, so that a stream never starves the
        clients' actions."""
        await asyncio.sleep(0)
        for session in list(self.sessions):
            await session.drain()
        for session in [s for s in self.sessions if s.closed]:
            self.remove(session)
