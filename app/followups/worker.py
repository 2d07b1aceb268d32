"""The follow-ups worker of each instance: every ``followups_tick_seconds`` it pops what
fell due (see ``FollowupService.fire_due``), the first time right at start (what fell due
while Tamas was down); at start and then every few minutes it makes the contract notices
(``contract_notices``: once per contract, whichever instance gets there first)."""

from __future__ import annotations

import asyncio
import logging
import time

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.followups.service import FollowupService, contract_notices
from app.tasks import cancelled

logger = logging.getLogger(__name__)

NOTICES_EVERY = 600.0  # seconds


class FollowupWorker:
    def __init__(self, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self.fired = 0
        self.notices = 0
        self._notices_at: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="followups")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def run_once(self) -> int:
        async with unit_of_work(self.sessionmaker) as session:
            fired = await FollowupService(session, self.settings).fire_due()
        self.fired += fired
        now = time.monotonic()
        if self._notices_at is None or now - self._notices_at >= NOTICES_EVERY:
            today = self.settings.today()
            async with unit_of_work(self.sessionmaker) as session:
                self.notices += await contract_notices(session, self.settings, today)
            self._notices_at = now
        return fired

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("follow-ups: popping what is due failed; trying again")
            await asyncio.sleep(self.settings.followups_tick_seconds)
