"""The internal devices each PBX's call tracker goes by (telephony.devices): the agents'
devices read from the database when Tamas starts and again every
``device_refresh_seconds`` (a device added to an agent counts from the next read), with the
devices configured for the PBX (``internal_devices``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from app.db import SessionMaker
from app.tasks import cancelled
from app.users.repository import UserRepository
from telephony.devices import KnownDevices

logger = logging.getLogger(__name__)


class DeviceRefresher:
    def __init__(
        self,
        sessionmaker: SessionMaker,
        configured: Mapping[str, Sequence[str]],
        every: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.configured = configured
        self.every = every
        # One per PBX, handed to its tracker (is_internal) by the lifespan.
        self.books = {pbx: KnownDevices(devices) for pbx, devices in configured.items()}
        self._task: asyncio.Task[None] | None = None

    async def refresh_once(self) -> None:
        async with self.sessionmaker() as session:
            agents = await UserRepository(session).all_devices()
        for pbx, book in self.books.items():
            if book.replace([*agents, *self.configured[pbx]]):
                logger.info("PBX %s: %d internal devices known", pbx, len(book.devices))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="device-refresher")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.refresh_once()
            except Exception:  # the database away: the devices known stay as they were
                logger.warning("could not read the agents' devices; trying again", exc_info=True)
