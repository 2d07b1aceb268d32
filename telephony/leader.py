"""One listener per PBX across every running instance.

Each instance tries, for each PBX, to take a PostgreSQL advisory lock on a connection of its
own. The one that holds it runs that PBX's listener; the others try again every few seconds.
If the holder dies, PostgreSQL drops its connection and with it the lock, and another
instance takes over at its next try.

If the database itself goes away (restart, network), the holder loses its lock connection
but not its PBX: its listener goes on and holds call events until the database is back
(``AmiListener``), while this instance tries to take the lock again every half second (the
others try every ``retry`` seconds, so the holder usually gets it back). If another instance
got it first, the listener is given a few seconds to store what it held, then stopped: the
new holder resyncs from the PBX, and the calls table being an upsert per call, a call written
by both is still one row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from app.tasks import within
from telephony.listener import AmiListener

logger = logging.getLogger(__name__)

LOCK_CLASS = 0x7A6A  # the first key of every Tamas PBX lock


def lock_key(pbx: str) -> int:
    return zlib.crc32(pbx.encode()) & 0x7FFFFFFF


class PbxLeadership:
    def __init__(
        self,
        dsn: str,
        pbx_ids: Sequence[str],
        make_listener: Callable[[str], Awaitable[AmiListener]],
        *,
        retry: float = 3.0,
    ) -> None:
        self.dsn = dsn
        self.pbx_ids = list(pbx_ids)
        self.make_listener = make_listener
        self.retry = retry
        self.listeners: dict[str, AmiListener] = {}
        self._locks: dict[str, asyncpg.Connection] = {}
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    def owns(self, pbx: str) -> bool:
        return pbx in self.listeners

    async def start(self) -> None:
        await self._round()
        self._task = asyncio.create_task(self._run(), name="pbx-leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pbx in list(self.listeners):
            await self._release(pbx)

    async def _run(self) -> None:
        while True:
            orphaned = any(pbx not in self._locks for pbx in self.listeners)
            await asyncio.sleep(min(self.retry, 0.5) if orphaned else self.retry)
            try:
                await self._round()
            except Exception:
                logger.exception("PBX leadership round failed")

    async def _round(self) -> None:
        for pbx in self.pbx_ids:
            conn = self._locks.get(pbx)
            if conn is not None:
                try:
                    await within(conn.execute("SELECT 1"), 10)
                    continue
                except Exception:
                    logger.warning(
                        "PBX %s: lost the database connection holding its lock; following it "
                        "on while trying to take the lock again",
                        pbx,
                    )
                    self._locks.pop(pbx, None)
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await self._try_take(pbx)

    async def _try_take(self, pbx: str) -> None:
        try:
            conn = await asyncpg.connect(self.dsn)
        except Exception as exc:
            logger.warning("PBX %s: cannot reach the database for its lock: %s", pbx, exc)
            return
        try:
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, lock_key(pbx)
            )
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            listener = self.listeners.pop(pbx, None)
            if listener is not None:
                logger.warning(
                    "PBX %s: another instance took it while the database was away; handing it over",
                    pbx,
                )
                await listener.stop_when_stored(10.0)
                self.changed.set()
            return
        self._locks[pbx] = conn
        if pbx in self.listeners:
            logger.info("PBX %s: took its lock again", pbx)
            return
        logger.info("PBX %s: this instance follows it", pbx)
        listener = await self.make_listener(pbx)
        await listener.start()
        self.listeners[pbx] = listener
        self.changed.set()

    async def _release(self, pbx: str) -> None:
        listener = self.listeners.pop(pbx, None)
        if listener is not None:
            await listener.stop()
        conn = self._locks.pop(pbx, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        self.changed.set()
