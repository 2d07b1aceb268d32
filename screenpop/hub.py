"""Who is connected here: agents to their websocket connections (pure asyncio, no I/O of
its own). One slow client never stalls the others: each connection has a bounded queue, and
one that falls too far behind is told to resync instead of holding messages for ever."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

logger = logging.getLogger(__name__)

RESYNC = {"type": "resync", "reason": "too far behind: reconnect with your last seq"}


class Connection:
    def __init__(self, user_id: int, maxsize: int = 256) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self.last_seq = 0  # the newest pop sent: older ones arriving late are not sent again
        self.overflowed = False

    def offer(self, message: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Drop what is queued: the client reconnects with its last seq and gets the
            # current state of its calls, which is all that is still worth showing.
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)
            logger.warning("a client of user %s fell behind; told to resync", self.user_id)

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

    def add(self, conn: Connection) -> None:
        self._by_user[conn.user_id].add(conn)

    def remove(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def users(self) -> list[int]:
        return list(self._by_user)

    def connections(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def deliver(self, user_id: int, message: dict[str, Any]) -> None:
        for conn in list(self._by_user.get(user_id, ())):
            conn.offer(message)

    def broadcast(self, message: dict[str, Any]) -> None:
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                conn.offer(message)
