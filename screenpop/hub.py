"""Who is connected here: agents to their websocket connections (pure asyncio, no I/O of
its own). One slow client never stalls the others: each connection has a bounded queue, and
one that falls too far behind is told to resync instead of holding messages for ever."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from app.metrics import RESYNCS_TOLD, SLOW_CLIENTS, observe_pop

logger = logging.getLogger(__name__)

RESYNC = {"type": "resync", "reason": "too far behind: reconnect with your last seq"}
PING = {"type": "ping"}
# Not sent: tells the connection's writer to close the socket with ``Connection.closing``.
CLOSE: dict[str, Any] = {"type": "_close"}


class Connection:
    """One open socket of one agent: what is waiting to be sent, and what the keeper needs to
    know (when the client was last heard, which token it signed in with, when to look at it
    again). Kept small: a busy instance holds thousands of these for hours."""

    __slots__ = (
        "closing",
        "due",
        "last_heard",
        "last_seq",
        "overflowed",
        "queue",
        "token_digest",
        "user_id",
    )

    def __init__(self, user_id: int, token_digest: str = "", maxsize: int = 256) -> None:
        self.user_id = user_id
        self.token_digest = token_digest
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self.last_seq = 0  # the newest pop sent: older ones arriving late are not sent again
        self.overflowed = False
        self.closing: tuple[int, str] | None = None
        self.last_heard = time.monotonic()
        self.due = 0.0  # when the keeper next checks this connection (set by Hub.add)

    def offer(self, message: dict[str, Any]) -> None:
        if self.overflowed or self.closing is not None:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Drop what is queued: the client reconnects with its last seq and gets the
            # current state of its calls, which is all that is still worth showing.
            self.overflowed = True
            self._clear()
            self.queue.put_nowait(RESYNC)
            SLOW_CLIENTS.inc()
            logger.warning("a client of user %s fell behind; told to resync", self.user_id)

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to close this socket; whatever is still queued is not sent."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        self._clear()
        self.queue.put_nowait(CLOSE)

    def heard(self) -> None:
        self.last_heard = time.monotonic()

    def _clear(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    async def next(self) -> dict[str, Any]:
        """The next message to send (pops already sent are skipped)."""
        while True:
            message = await self.queue.get()
            seq = message.get("seq")
            if isinstance(seq, int):
                if seq <= self.last_seq:
                    continue
                self.last_seq = seq
            return message


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[int, set[Connection]] = defaultdict(set)

    def add(self, conn: Connection, first_check: float = 0.0) -> None:
        """Register ``conn``; the keeper first looks at it ``first_check`` seconds from now."""
        conn.due = time.monotonic() + first_check
        self._by_user[conn.user_id].add(conn)

    def remove(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def has(self, user_id: int) -> bool:
        """Whether ``user_id`` has a connection here."""
        return user_id in self._by_user

    def users(self) -> list[int]:
        return list(self._by_user)

    def connections(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def __iter__(self) -> Iterator[Connection]:
        for conns in list(self._by_user.values()):
            yield from list(conns)

    def deliver(self, user_id: int, message: dict[str, Any]) -> None:
        observe_pop(message)
        for conn in list(self._by_user.get(user_id, ())):
            conn.offer(message)

    def broadcast(self, message: dict[str, Any]) -> None:
        RESYNCS_TOLD.inc(self.connections() if message is RESYNC else 0)
        for conn in self:
            conn.offer(message)
