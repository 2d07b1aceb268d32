"""Tracker output to the database (one unit of work per batch), then to whoever listens
(screen-pops, wallboards) once the data is committed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.agents.service import AgentService, availability
from app.callbacks.service import CallbackService
from app.calls.service import CallLogService
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.integrations.events import call_events
from app.integrations.service import emit
from app.messaging.service import MessagingService, TriggerBook
from app.models import Origination
from app.originations.service import OriginationService
from app.phones import display_number
from app.supervision.activity_service import ActivityService
from app.supervision.service import SupervisionService
from app.tracking.service import TrackingService
from recordings.service import RecordingService
from screenpop.service import PopService
from telephony.members import MemberState
from telephony.model import CallEvent, CallSnapshot, Extras

logger = logging.getLogger(__name__)

WALLBOARD_CHANNEL = "tamas_wallboard"
BOARD_GAP = 0.3
MEMBER_GAP = 0.5


def _member_key(m: MemberState) -> tuple[str, str, str]:
    return (m.pbx, m.queue, m.interface)


def _availability_of(m: MemberState) -> tuple[bool, bool, str, bool]:
    return availability(m.paused, m.paused_reason, m.status, m.removed)


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
        sms_triggers: TriggerBook | None = None,
    ):
        self.sessionmaker = sessionmaker
        self.publishers = publishers or []
        self.pops = pops
        self.region = region
        self.settings = settings or Settings(pbxes=[], default_region=region)
        self.stored = 0
        self.sms_triggers = sms_triggers or TriggerBook()
        self._board_notified = 0.0
        # Queue members: the availability last stored for each, and device-state changes
        # waiting to be stored together.
        self._member_cache: dict[tuple[str, str, str], tuple[bool, bool, str, bool]] = {}
        self._deferred: dict[tuple[str, str, str], MemberState] = {}
        self._member_flush: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        # How many recordings each live call had named at its last batch.
        self._recordings_seen: dict[tuple[str, str], int] = {}
        self._trailing: asyncio.TimerHandle | None = None
        self._trail_task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """At shutdown, once the listeners have stopped: store the coalesced queue-member
        states and send the trailing wallboard notification now, rather than from timers
        that would fire after the database is closed."""
        pending_board = self._trailing is not None
        for handle in (self._member_flush, self._trailing):
            if handle is not None:
                handle.cancel()
        self._member_flush = self._trailing = None
        for task in (self._flush_task, self._trail_task):
            if task is not None and not task.done():
                await task  # each logs its own failure
        await self._flush_members()
        if pending_board:
            await self._notify_board()

    def _members_now(self, extras: Extras) -> list[MemberState]:
        """The member states to store in this batch: a change of availability (paused, the
        reason, a queue joined or left, the phone unreachable) at once; device-state changes
        alone (ringing, in use, free: several with every call) are coalesced and stored at
        most every MEMBER_GAP seconds, the newest state of each member."""
        if extras.member_snapshot is not None:
            self._member_cache = {
                _member_key(m): _availability_of(m) for m in extras.member_snapshot.members
            }
            self._deferred.clear()
        now: list[MemberState] = []
        for m in extras.members:
            key = _member_key(m)
            if self._member_cache.get(key) != _availability_of(m):
                self._member_cache[key] = _availability_of(m)
                self._deferred.pop(key, None)
                now.append(m)
            else:
                self._deferred[key] = m
        if self._deferred and self._member_flush is None:
            loop = asyncio.get_running_loop()
            self._member_flush = loop.call_later(MEMBER_GAP, self._start_member_flush)
        return now

    def _start_member_flush(self) -> None:
        self._member_flush = None
        self._flush_task = asyncio.get_running_loop().create_task(self._flush_members())

    async def _flush_members(self) -> None:
        deferred, self._deferred = list(self._deferred.values()), {}
        if not deferred:
            return
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await AgentService(session, self.settings).apply(deferred, None)
                await PopService(session, self.region).repo.notify(WALLBOARD_CHANNEL, "")
        except Exception:
            # Device states are only shown: the next change or resync puts them right.
            logger.warning("storing %d queue-member states failed", len(deferred), exc_info=True)

    def _trail_board(self) -> None:
        if self._trailing is not None:
            return
        loop = asyncio.get_running_loop()
        self._trailing = loop.call_later(BOARD_GAP, self._start_trail)

    def _start_trail(self) -> None:
        self._trailing = None
        self._trail_task = asyncio.get_running_loop().create_task(self._notify_board())

    async def _notify_board(self) -> None:
        self._board_notified = time.monotonic()
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await PopService(session, self.region).repo.notify(WALLBOARD_CHANNEL, "")
        except Exception:  # the wallboard redraws at its next refresh anyway
            logger.warning("wallboard notification failed", exc_info=True)

    async def __call__(self, events: list[CallEvent], extras: Extras | None = None) -> None:
        if not events and not extras:
            return
        extras = extras or Extras()
        # A supervisor's phone listening in is followed (its end ends the session) but is
        # not a call: not logged, popped or counted; a row stored before its channel said
        # so (its first events in an earlier batch) goes. Its events from before it said so
        # in this same batch go too, or they would store it again once forgotten.
        all_events = events
        spying = {(e.pbx, e.call.linkedid) for e in events if e.call.supervision}
        events = [e for e in events if (e.pbx, e.call.linkedid) not in spying]
        # Only the newest state of each call in the batch needs writing.
        latest: dict[tuple[str, str], CallSnapshot] = {}
        for event in events:
            latest[(event.pbx, event.call.linkedid)] = event.call
        async with unit_of_work(self.sessionmaker) as session:
            service = CallLogService(session)
            if spying:
                await service.forget(sorted(spying))
            if extras.live_calls is not None:
                # First: a call of this batch closed here is then stored as it really is.
                await service.close_unseen(extras.live_calls)
            stored = await service.record_many(latest.values()) if latest else {}
            ids = {key: stored[(call.pbx, call.linkedid)] for key, call in latest.items()}
            # For webhooks and the event stream: written with the calls, sent after commit
            # by the webhook worker (never a network call here).
            await emit(session, call_events(events, ids, service.holders))
            pops = PopService(
                session,
                self.region,
                self.settings.contract_expiring_days,
                self.settings.contract_notice_months,
                self.settings.time_zone,
            )
            messages: list[dict[str, Any]] = []
            if any(e.kind == "answered" for e in events):
                await TrackingService(session, self.settings).auto_issue(events, ids)
            if any(e.kind == "ended" for e in events):
                await CallbackService(session, self.settings).track(events, ids)
            if any(e.kind in ("answered", "ended") for e in events):
                # Texts for missed calls and automatic tracking codes, in this transaction.
                await MessagingService(session, self.settings, self.sms_triggers).after_calls(
                    events, ids
                )
            if extras.originates or any(e.call.origination for e in events):
                failed = await OriginationService(session, self.settings).track(
                    events, extras.originates, ids
                )
                messages += [self._failed_before_ringing(o) for o in failed]
            if extras.originates or spying:
                # Supervisors' listening sessions: answered, failed, or over.
                await SupervisionService(session, self.settings).track(
                    all_events, extras.originates
                )
            # A call's recordings are attached when it names a new one, and once more when it
            # ends (for the patterns); not again with every batch of a call still up.
            recorded = [
                c
                for key, c in latest.items()
                if c.ended_at is not None or len(c.recordings) > self._recordings_seen.get(key, 0)
            ]
            for key, c in latest.items():
                if c.ended_at is None:
                    self._recordings_seen[key] = len(c.recordings)
                else:
                    self._recordings_seen.pop(key, None)
            if recorded or extras.recordings:
                await RecordingService(session, self.settings).attach(
                    recorded, ids, extras.recordings
                )
            if extras.members or extras.signals or extras.member_snapshot is not None:
                # Every state change with its own time (the coalescing below is for the
                # member table only): the agents' activity history.
                await ActivityService(session).record(
                    extras.members, extras.member_snapshot, extras.signals
                )
            members = self._members_now(extras)
            if members or extras.member_snapshot is not None:
                messages += await AgentService(session, self.settings).apply(
                    members, extras.member_snapshot
                )
            if self.pops:
                await pops.publish(events, ids, service.holders)
                await pops.add(messages)
            # The wallboards redraw once this commits (at most every BOARD_GAP seconds; a
            # change in between is announced by a trailing notification).
            if time.monotonic() - self._board_notified >= BOARD_GAP:
                self._board_notified = time.monotonic()
                await pops.repo.notify(WALLBOARD_CHANNEL, "")
            else:
                self._trail_board()
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
