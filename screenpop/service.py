"""Which agent gets which pop, and what it shows. Runs inside the transaction that stores
the call (``telephony.handlers``), so a pop exists only with the data it shows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Customer, User
from app.phones import try_parse_phone
from screenpop.repository import PopRepository
from telephony.events import extension_of
from telephony.model import CallEvent, CallSnapshot

NOTIFY_CHANNEL = "tamas_pops"
LAST_CALLS = 5


def display_number(number: str, region: str) -> str:
    """The number as people read it: national format for a local number, international for
    a foreign one, as it came when it is not a phone number (an extension, "anonymous")."""
    parsed = try_parse_phone(number, region) if number else None
    if parsed is None:
        return number
    return parsed.national() if parsed.region == region else parsed.international


def _iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


def _name(user: User | None, device: str) -> str:
    if user is None:
        return extension_of(device) if device else ""
    return user.full_name or user.username


def customer_card(customer: Customer, region: str) -> dict[str, Any]:
    return {
        "id": customer.id,
        "kind": customer.kind,
        "name": customer.name,
        "company": customer.company,
        "address": customer.address,
        "email": customer.email,
        "tags": list(customer.tags),
        "priority": customer.priority,
        "notes": customer.notes,
        "phones": [
            {
                "number": display_number(p.e164, region),
                "e164": p.e164,
                "extension": p.extension or None,
                "label": p.label,
            }
            for p in customer.phones
        ],
    }


class PopService:
    def __init__(self, session: AsyncSession, region: str) -> None:
        self.repo = PopRepository(session)
        self.region = region

    async def publish(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> list[int]:
        """Write the pops these call events cause; NOTIFY the other instances (delivered at
        commit). Returns the pop ids."""
        ids: list[int] = []
        for event in events:
            call_id = call_ids.get((event.pbx, event.call.linkedid))
            if call_id is None:
                continue
            ids += await self._route(event, call_id)
        if ids:
            await self.repo.notify(NOTIFY_CHANNEL, json.dumps(ids))
        return ids

    async def _route(self, event: CallEvent, call_id: int) -> list[int]:
        call = event.call
        kind = event.kind
        devices = [event.device, event.from_device, event.to, call.answered_by]
        users = await self.repo.users_for_devices([d for d in devices if d])
        rows: list[tuple[int, str, str, str]] = []  # user, kind, state, reason
        open_users: dict[int, str] = {}
        if kind in ("answered", "transferred", "ended"):
            open_users = {
                u: k
                for u, k in (await self.repo.open_recipients(call.pbx, call.linkedid)).items()
                if k == "pop"
            }

        if kind in ("ringing", "dialling"):
            user = users.get(event.device)
            if user is not None:
                reason = ""
                if call.transfers and _is_target(call, event.device):
                    reason = "transferred"
                rows.append((user.id, "pop", kind, reason))
        elif kind == "answered":
            user = users.get(event.device)
            state = "connected" if call.direction == "outbound" else "answered"
            if user is not None:
                rows.append((user.id, "pop", state, ""))
            for other in open_users:
                if user is None or other != user.id:
                    rows.append((other, "withdraw", "answered_elsewhere", "answered"))
        elif kind == "transferred":
            source = users.get(event.from_device)
            target = users.get(event.to)
            if source is not None and source.id in open_users:
                rows.append((source.id, "withdraw", "transferred_away", "transferred"))
            if target is not None:
                rows.append((target.id, "pop", "transferred", "transferred"))
        elif kind == "ended":
            for other in open_users:
                if call.outcome == "answered":
                    rows.append((other, "end", "ended", "ended"))
                else:
                    reason = "caller_hung_up" if call.direction == "inbound" else call.outcome
                    rows.append((other, "withdraw", "ended", reason))
        if not rows:
            return []

        payload = await self._payload(event, call_id, users)
        return await self.repo.add(
            [
                {
                    "user_id": user_id,
                    "pbx": call.pbx,
                    "linkedid": call.linkedid,
                    "kind": pop_kind,
                    "payload": {**payload, "state": state, "reason": reason},
                }
                for user_id, pop_kind, state, reason in rows
            ]
        )

    async def _payload(
        self, event: CallEvent, call_id: int, users: dict[str, User]
    ) -> dict[str, Any]:
        call = event.call
        number = call.customer_number or (
            call.caller_number if call.direction == "internal" else call.called_number
        )
        customers: Sequence[Customer] = []
        last: list[dict[str, Any]] = []
        if call.customer_e164:
            customers = await self.repo.customers_for(call.customer_e164)
            for past, full_name, username in await self.repo.last_calls(
                call.customer_e164, call_id, LAST_CALLS
            ):
                last.append(
                    {
                        "call_id": past.id,
                        "started_at": past.started_at.isoformat(),
                        "direction": past.direction,
                        "outcome": past.outcome,
                        "agent": full_name or username or extension_of(past.answered_by),
                        "talk_seconds": past.talk_seconds,
                    }
                )
        transfer = call.transfers[-1] if call.transfers else None
        return {
            "pbx": call.pbx,
            "linkedid": call.linkedid,
            "call_id": call_id,
            "direction": call.direction,
            "number": number,
            "number_display": display_number(number, self.region),
            "e164": call.customer_e164,
            "caller_name": call.caller_name,
            "did": call.did,
            "queue": call.queue,
            "started_at": _iso(call.started_at),
            "answered_at": _iso(call.answered_at),
            "outcome": call.outcome,
            "answered_by": _name(users.get(call.answered_by), call.answered_by),
            "transferred_by": (
                _name(users.get(transfer.from_device), transfer.from_device) if transfer else ""
            ),
            "transferred_to": _name(users.get(transfer.to), transfer.to) if transfer else "",
            "known": bool(customers),
            "customers": [customer_card(c, self.region) for c in customers],
            "last_calls": last,
        }

    async def last_seq(self, user_id: int) -> int:
        return await self.repo.last_id(user_id)

    async def since(self, user_id: int, after: int | None) -> list[dict[str, Any]]:
        return [message(e.id, e.kind, e.payload) for e in await self.repo.missed(user_id, after)]

    async def fetch(
        self, ids: Sequence[int], user_ids: Sequence[int]
    ) -> list[tuple[int, dict[str, Any]]]:
        return [
            (e.user_id, message(e.id, e.kind, e.payload))
            for e in await self.repo.events(ids, user_ids)
        ]


def message(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A pop as it goes over the websocket."""
    return {"type": kind, "seq": seq, **payload}


def _is_target(call: CallSnapshot, device: str) -> bool:
    last = call.transfers[-1]
    return last.to in (device, extension_of(device))
