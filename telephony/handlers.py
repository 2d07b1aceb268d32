"""Tracker output to the database (one unit of work per batch), then to whoever listens
(screen-pops, wallboards) once the data is committed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.calls.service import CallLogService
from app.db import SessionMaker, unit_of_work
from screenpop.service import PopService
from telephony.model import CallEvent, CallSnapshot

logger = logging.getLogger(__name__)

Publisher = Callable[[list[CallEvent]], Awaitable[None]]


class CallRecorder:
    """Stores calls; with ``pops`` on, also writes the screen-pops they cause in the same
    transaction (PostgreSQL NOTIFY tells every instance once it commits)."""

    def __init__(
        self,
        sessionmaker: SessionMaker,
        publishers: list[Publisher] | None = None,
        *,
        pops: bool = True,
        region: str = "IR",
    ):
        self.sessionmaker = sessionmaker
        self.publishers = publishers or []
        self.pops = pops
        self.region = region
        self.stored = 0

    async def __call__(self, events: list[CallEvent]) -> None:
        if not events:
            return
        # Only the newest state of each call in the batch needs writing.
        latest: dict[tuple[str, str], CallSnapshot] = {}
        for event in events:
            latest[(event.pbx, event.call.linkedid)] = event.call
        async with unit_of_work(self.sessionmaker) as session:
            service = CallLogService(session)
            stored = await service.record_many(latest.values())
            ids = {key: stored[(call.pbx, call.linkedid)] for key, call in latest.items()}
            if self.pops:
                await PopService(session, self.region).publish(events, ids)
        self.stored += len(latest)
        for publish in self.publishers:
            try:
                await publish(events)
            except Exception:
                # A listener that fails must not make the stored calls be stored again.
                logger.exception("publishing %d call events failed", len(events))
