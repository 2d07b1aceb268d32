"""The recordings' background work, on every instance: look for the files that are due (each
claimed by one instance with SKIP LOCKED), apply the retention once an hour, and prune the
local copies (converted for browsers, downloaded from a bucket) by age and total size every
``recordings_cache_prune_seconds``, never one being served (recordings.cache)."""

from __future__ import annotations

import asyncio
import logging
import time

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.tasks import cancelled
from recordings import cache
from recordings.service import (
    RecordingService,
    browser_copies_dir,
    bucket_copies_dir,
    storage_for,
)
from recordings.storage import StorageUnavailable

logger = logging.getLogger(__name__)


class RecordingTasks:
    def __init__(
        self,
        sessionmaker: SessionMaker,
        settings: Settings,
        serving: cache.ServingFiles | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.storage = storage_for(settings)
        self.serving = serving if serving is not None else cache.ServingFiles()
        self.tick = 2.0
        self.purge_every = 3600.0
        self.prune_every = settings.recordings_cache_prune_seconds
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
        return total

    async def prune_cache_once(self) -> cache.Pruned:
        """The local copies pruned now: by age, then by total size (least recently used
        first); none being served."""
        s = self.settings
        pruned = await asyncio.to_thread(
            cache.prune,
            browser_copies_dir(s),
            bucket_copies_dir(s),
            now=time.time(),
            max_bytes=s.recordings_cache_max_mb * 1024 * 1024,
            max_age=s.recordings_cache_max_age_hours * 3600,
            serving=self.serving,
        )
        if pruned.deleted:
            logger.info(
                "recordings cache: %d copies pruned (%d bytes freed, %d kept)",
                pruned.deleted,
                pruned.freed_bytes,
                pruned.kept_bytes,
            )
        return pruned

    async def _run(self) -> None:
        last_purge = last_prune = 0.0
        delay = self.tick
        while True:
            try:
                await self.check_once()
                if time.monotonic() - last_purge > self.purge_every:
                    last_purge = time.monotonic()
                    await self.purge_once()
                if time.monotonic() - last_prune > self.prune_every:
                    last_prune = time.monotonic()
                    await self.prune_cache_once()
                delay = self.tick
            except StorageUnavailable as exc:
                # A bucket down or misconfigured: said once per try, tried less and less often.
                delay = min(max(delay * 2, self.tick), 60.0)
                logger.warning("recordings: %s; trying again in %.0f s", exc, delay)
            except Exception:
                logger.exception("recordings: a check failed; trying again")
                delay = self.tick
            await asyncio.sleep(delay)
