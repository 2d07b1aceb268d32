"""Tracker output to the database (one unit of work per batch), then to whoever listens
(screen-pops, wallboards) once the data is committed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.agents.service import AgentService
from app.callbacks.service import CallbackService
from app.calls.service import CallLogService
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.models import Origination
from app.originations.service import OriginationService
from app.tracking.service import TrackingService
from recordings.service import RecordingService
from screenpop.service import PopService, display_number
from telephony.model import CallEvent, CallSnapshot, Extras

logger = logging.getLogger(__name__)

WALLBOARD_CHANNEL = "tamas_wallboard"

Publisher = Callable[[list[CallEvent]], Awaitable[None]]


class CallRecorder:
    """Stores calls; with ``pops`` on, also writes the screen-pops they cause in the same
    transaction (PostgreSQL NOTIFY tells every instance once it commits). Also keeps
    click-to-calls and agents' queue membership up to date from the same stream."""

    def __init__(
        self,
        sessionmaker: SessionMaker,
        publishers: list[Publisher] | None = None,
        *,
        pops: bool = True,
        region: str = "IR",
        settings: Settings | None = None,
    ):
        self.sessionmaker = sessionmaker
        self.publishers = publishers or []
        self.pops = pops
        self.region = region
        self.settings = settings or Settings(pbxes=[], default_region=region)
        self.stored = 0

    async def __call__(self, events: list[CallEvent], extras: Extras | None = None) -> None:
        if not events and not extras:
            return
        extras = extras or Extras()
        # Only the newest state of each call in the batch needs writing.
        latest: dict[tuple[str, str], CallSnapshot] = {}
        for event in events:
            latest[(event.pbx, event.call.linkedid)] = event.call
        async with unit_of_work(self.sessionmaker) as session:
            service = CallLogService(session)
            stored = await service.record_many(latest.values()) if latest else {}
            ids = {key: stored[(call.pbx, call.linkedid)] for key, call in latest.items()}
            pops = PopService(session, self.region, self.settings.contract_expiring_days)
            messages: list[dict[str, Any]] = []
            if any(e.kind == "answered" for e in events):
                await TrackingService(session, self.settings).auto_issue(events, ids)
            if any(e.kind == "ended" for e in events):
                await CallbackService(session).track(events, ids)
            if extras.originates or any(e.call.origination for e in events):
                failed = await OriginationService(session, self.settings).track(
                    events, extras.originates, ids
                )
                messages += [self._failed_before_ringing(o) for o in failed]
            recorded = [c for c in latest.values() if c.recordings or c.ended_at is not None]
            if recorded or extras.recordings:
                await RecordingService(session, self.settings).attach(
                    recorded, ids, extras.recordings
                )
            if extras.members or extras.member_snapshot is not None:
                messages += await AgentService(session, self.settings).apply(
                    extras.members, extras.member_snapshot
                )
            if self.pops:
                await pops.publish(events, ids)
                await pops.add(messages)
            # The wallboards redraw once this commits.
            await pops.repo.notify(WALLBOARD_CHANNEL, "")
        self.stored += len(latest)
        for publish in self.publishers:
            try:
                await publish(events)
            except Exception:
                # A listener that fails must not make the stored calls be stored again.
                logger.exception("publishing %d call events failed", len(events))

    def _failed_before_ringing(self, origination: Origination) -> dict[str, Any]:
        """The message that tells an agent their click-to-call failed before any call
        existed (their phone is offline, busy...): keyed by the origination's ref."""
        return {
            "user_id": origination.user_id,
            "pbx": origination.pbx,
            "linkedid": origination.ref,
            "kind": "withdraw",
            "payload": {
                "pbx": origination.pbx,
                "linkedid": origination.ref,
                "origination": origination.ref,
                "direction": "outbound",
                "number": origination.number,
                "number_display": display_number(
                    origination.e164 or origination.dialled, self.region
                ),
                "e164": origination.e164,
                "customer_id": origination.customer_id,
                "state": "failed",
                "reason": origination.failure,
                "outcome": "failed",
            },
        }
