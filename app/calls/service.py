"""Call logs: store what the tracker reports, attached to customers and agents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.repository import CallRepository
from app.errors import NotFound
from app.models import Call
from telephony.model import CallSnapshot, Leg, LiveCalls


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def call_values(call: CallSnapshot) -> dict[str, Any]:
    started = _ts(call.started_at)
    assert started is not None
    return {
        "pbx": call.pbx,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "caller_number": call.caller_number[:80],
        "caller_name": call.caller_name[:200],
        "called_number": call.called_number[:80],
        "customer_number": call.customer_number[:80],
        "customer_e164": call.customer_e164,
        "did": call.did[:80],
        "queue": call.queue[:80],
        "answered_by": call.answered_by,
        "outcome": call.outcome,
        "missed_reason": call.missed_reason,
        "hangup_cause": call.hangup_cause[:8],
        "hangup_cause_text": call.hangup_cause_text[:100],
        "dial_status": call.dial_status[:32],
        "hung_up_by": call.hung_up_by,
        "started_at": started,
        "queue_joined_at": _ts(call.queue_joined_at),
        "answered_at": _ts(call.answered_at),
        "ended_at": _ts(call.ended_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "recordings": list(call.recordings),
        "rings": [asdict(r) for r in call.rings],
        "transfers": [asdict(t) for t in call.transfers],
        "end_reason": call.end_reason,
    }


def _leg_values(call_id: int, call: CallSnapshot, leg: Leg, internal: set[str]) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "pbx": call.pbx,
        "uniqueid": leg.uniqueid,
        "channel": leg.channel[:200],
        "device": leg.device[:100],
        "internal": leg.internal,
        # Its user, looked up by the upsert (a device of the call's internal legs only).
        "user_device": leg.device if leg.device in internal else None,
        "created_at": _ts(leg.created_at),
        "answered_at": _ts(leg.answered_at),
        "ended_at": _ts(leg.ended_at),
        "hangup_cause": leg.hangup_cause[:8],
        "hangup_cause_text": leg.hangup_cause_text[:100],
        "dial_status": leg.dial_status[:32],
    }


class CallLogService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = CallRepository(session)
        # The customers holding each number ``record_many`` looked up (none: an empty list),
        # for what else the same transaction needs to know about those numbers.
        self.holders: dict[str, list[int]] = {}

    async def record(self, call: CallSnapshot) -> int:
        """Store the call as it is now (insert or update: the same call reported again,
        or replayed after a reconnect, stays one call with one row per leg)."""
        ids = await self.record_many([call])
        return ids[(call.pbx, call.linkedid)]

    async def record_many(self, calls: Iterable[CallSnapshot]) -> dict[tuple[str, str], int]:
        """Store these calls as they are now, as ``record`` would one after the other (a call
        given twice is stored as the later snapshot says), with one statement per table for
        them all. Their ids by (pbx, linkedid)."""
        latest: dict[tuple[str, str], CallSnapshot] = {}
        for call in calls:
            latest[(call.pbx, call.linkedid)] = call
        if not latest:
            return {}
        # Each call is linked to the users of its own internal legs' devices only (the
        # upserts look the users up by these devices).
        internal = {
            key: {leg.device for leg in call.legs if leg.internal} for key, call in latest.items()
        }
        rows = []
        for key, call in latest.items():
            values = call_values(call)
            answered = call.answered_by
            values["answered_by_device"] = answered if answered in internal[key] else None
            rows.append(values)
        stored = await self.repo.upsert(rows)
        ids = {key: call_id for key, (call_id, _) in stored.items()}
        await self.repo.upsert_legs(
            [
                _leg_values(ids[key], call, leg, internal[key])
                for key, call in latest.items()
                for leg in call.legs
            ]
        )
        # The customers holding each call's number came back with the calls.
        self.holders |= {
            call.customer_e164: stored[key][1] for key, call in latest.items() if call.customer_e164
        }
        await self.repo.link_customers(
            [
                (ids[key], customer_id)
                for key, call in latest.items()
                if call.customer_e164
                for customer_id in stored[key][1]
            ]
        )
        return ids

    async def forget(self, keys: Sequence[tuple[str, str]]) -> None:
        """Remove the stored calls of these (pbx, linkedid): they turned out not to be
        calls (a supervisor's phone listening in)."""
        await self.repo.delete(keys)

    async def close_unseen(self, live: LiveCalls) -> list[int]:
        """After a resync: the PBX's calls stored as up that it no longer has (they ended
        while no Tamas instance was following it) are closed, with a reason saying so."""
        return await self.repo.close_unseen(
            live.pbx,
            live.linkedids,
            datetime.fromtimestamp(live.at, tz=UTC),
            "end not observed: the call was gone when Tamas reconnected",
        )

    async def get(self, call_id: int) -> Call:
        call = await self.repo.get(call_id)
        if call is None:
            raise NotFound(f"call {call_id} not found")
        return call

    async def customer_ids(self, call_id: int) -> list[int]:
        return await self.repo.customer_ids_of(call_id)

    async def timeline(
        self, customer_id: int, *, before: tuple[datetime, int] | None = None, limit: int = 50
    ) -> Sequence[Call]:
        return await self.repo.timeline(customer_id, before=before, limit=limit)
