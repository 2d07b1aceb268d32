"""The recordings' background work, on every instance: look for the files that are due (each
claimed by one instance with SKIP LOCKED), and apply the retention (and drop old local copies
of a bucket's recordings) once an hour."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.tasks import cancelled
from recordings.service import RecordingService, storage_for
from recordings.storage import StorageUnavailable

logger = logging.getLogger(__name__)

# Local copies of a bucket's recordings (what was played or described) are kept this long
# after their last use.
CACHE_KEPT = timedelta(days=1)


class RecordingTasks:
    def __init__(self, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.storage = storage_for(settings)
        self.tick = 2.0
        self.purge_every = 3600.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recordings")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def check_once(self) -> None:
        while True:
            async with unit_of_work(self.sessionmaker) as session:
                checked = await RecordingService(session, self.settings).check_due(self.storage)
            if checked.available or checked.missing:
                logger.info(
                    "recordings: %d available, %d missing", checked.available, checked.missing
                )
            if checked.available + checked.missing + checked.waiting < 50:
                return
            await asyncio.sleep(0.05)  # a backlog is worked through without hogging the loop

    async def purge_once(self) -> int:
        total = 0
        while True:
            async with unit_of_work(self.sessionmaker) as session:
                done = await RecordingService(session, self.settings).purge(self.storage)
            total += len(done)
            if len(done) < 500:
                break
        if total:
            logger.info("recordings: %d deleted by retention", total)
        cutoff = datetime.now(UTC) - CACHE_KEPT
        await asyncio.to_thread(self.storage.prune_cache, cutoff)
        return total

    async def _run(self) -> None:
        last_purge = 0.0
        delay = self.tick
        while True:
            try:
                await self.check_once()
                if time.monotonic() - last_purge > self.purge_every:
                    last_purge = time.monotonic()
                    await self.purge_once()
                delay = self.tick
            except StorageUnavailable as exc:
                # A bucket down or misconfigured: said once per try, tried less and less often.
                delay = min(max(delay * 2, self.tick), 60.0)
                logger.warning("recordings: %s; trying again in %.0f s", exc, delay)
            except Exception:
                logger.exception("recordings: a check failed; trying again")
                delay = self.tick
            await asyncio.sleep(delay)
