"""Pops to every instance: PostgreSQL ``LISTEN``. Whichever instance stored a call notifies
(at commit) the ids of the pops it wrote; every instance fetches those of its own connected
agents and hands them to its hub. No other server needed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from app.db import SessionMaker
from app.integrations.enrichment import Enricher
from screenpop.hub import RESYNC, Hub
from screenpop.service import NOTIFY_CHANNEL, PopService, message

logger = logging.getLogger(__name__)


class _Ready(list[tuple[int, dict[str, Any]]]):
    """Pops a notification carried whole: (user id, message), nothing to fetch."""


class PgFanout:
    def __init__(
        self,
        dsn: str,
        hub: Hub,
        sessionmaker: SessionMaker,
        region: str,
        *,
        extra_channels: dict[str, Callable[..., None]] | None = None,
        enricher: Enricher | None = None,
    ) -> None:
        self.dsn = dsn
        # Other notification channels heard on the same connection (the wallboard's).
        self.extra_channels = extra_channels or {}
        self.hub = hub
        # The ERP's lookup, when configured: pops go through it (never waiting for it).
        self.enricher = enricher
        self.sessionmaker = sessionmaker
        self.region = region
        # What the notifications said, in their order: pop ids to fetch, or the pops
        # themselves as (user id, message) when they fit in the notification.
        self.ids: asyncio.Queue[list[int] | _Ready] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.delivered = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="pops-listen")
        self._worker = asyncio.create_task(self._deliver(), name="pops-deliver")

    async def stop(self) -> None:
        for task in (self._task, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            said = json.loads(payload)
            if isinstance(said, dict):
                ready = _Ready(
                    (int(user_id), message(int(seq), str(kind), dict(body)))
                    for seq, user_id, kind, body in said["pops"]
                )
                self.ids.put_nowait(ready)
                return
            ids = [int(i) for i in said]
        except (ValueError, TypeError, KeyError):
            logger.warning("ignored a malformed pop notification")
            return
        self.ids.put_nowait(ids)

    async def _listen(self) -> None:
        delay = 0.5
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                for channel, callback in self.extra_channels.items():
                    await conn.add_listener(channel, callback)
                    callback()  # anything missed while away: rebuild once
                if not first:
                    # Notifications sent while we were away are gone: every client fetches
                    # what it missed by its last seq.
                    self.hub.broadcast(RESYNC)
                first = False
                delay = 0.5
                self.connected.set()
                while not conn.is_closed():
                    await asyncio.sleep(2)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise
            except Exception as exc:
                logger.warning("pop notifications: %s; retrying in %.1f s", exc, delay)
            self.connected.clear()
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _deliver(self) -> None:
        while True:
            ids = await self.ids.get()
            users = self.hub.users()
            if not users:
                continue
            if isinstance(ids, _Ready):
                here = set(users)
                for user_id, ready in ids:
                    if user_id in here:
                        self._send(user_id, ready)
                        self.delivered += 1
                continue
            try:
                async with self.sessionmaker() as session:
                    rows = await PopService(session, self.region).fetch(ids, users)
            except Exception:
                logger.exception("fetching %d pops failed; clients will resync", len(ids))
                self.hub.broadcast(RESYNC)
                continue
            for user_id, fetched in rows:
                self._send(user_id, fetched)
                self.delivered += 1

    def _send(self, user_id: int, message: dict[str, Any]) -> None:
        if self.enricher is None:
            self.hub.deliver(user_id, message)
        else:
            self.enricher.attach(user_id, message, self.hub.deliver)
