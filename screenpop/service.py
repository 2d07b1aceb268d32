"""Which agent gets which pop, and what it shows. Runs inside the transaction that stores
the call (``telephony.handlers``), so a pop exists only with the data it shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Customer
from app.phones import display_number
from screenpop.repository import Agent, CardExtras, PastCall, PopRepository, users_by_device
from telephony.events import extension_of
from telephony.model import CallEvent, CallSnapshot
from telephony.originate import failure_of_call

NOTIFY_CHANNEL = "tamas_pops"
LAST_CALLS = 5


def _iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


def _name(user: Agent | None, device: str) -> str:
    if user is None:
        return extension_of(device) if device else ""
    return user.full_name or user.username


def customer_card(
    customer: Customer,
    region: str,
    contract: dict[str, Any] | None = None,
    open_codes: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "id": customer.id,
        "kind": customer.kind,
        "name": customer.name,
        "external_id": customer.external_id,
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
        # active | expiring | expired | none, with the level and the last day covered.
        "contract": contract or {"status": "none", "level": "", "ends_on": None, "days_left": None},
        "open_tracking_codes": list(open_codes),
    }


class PopService:
    def __init__(
        self,
        session: AsyncSession,
        region: str,
        expiring_days: int = 30,
        notice_months: int = 0,
        time_zone: str = "Asia/Tehran",
    ) -> None:
        self.repo = PopRepository(session)
        self.region = region
        self.expiring_days = expiring_days
        self.notice_months = notice_months
        self.time_zone = time_zone  # whose "today" a contract's days left are counted from

    async def publish(
        self,
        events: Sequence[CallEvent],
        call_ids: dict[tuple[str, str], int],
        holders: Mapping[str, Sequence[int]] | None = None,
    ) -> list[int]:
        """Write the pops these call events cause; NOTIFY the other instances (delivered at
        commit). Returns the pop ids. ``holders``: the customers holding numbers already
        looked up in this transaction (``CallLogService.holders``); a number nobody holds is
        not looked up again.

        What the pops read (the agents on the devices, who holds a call's pops, the
        customers and their last calls) is read once for the whole batch and the pops are
        written in one statement: as if each event were routed and written in turn, in
        order, with a few statements per batch instead of a few per event."""
        routed = [
            (event, call_ids[(event.pbx, event.call.linkedid)])
            for event in events
            if (event.pbx, event.call.linkedid) in call_ids
        ]
        if not routed:
            return []
        batch = await _Batch.read(self.repo, [event for event, _ in routed])
        routed = [(batch.completed(event), call_id) for event, call_id in routed]
        decided = [(event, call_id, self._route(event, batch)) for event, call_id in routed]
        decided = [(event, call_id, rows) for event, call_id, rows in decided if rows]
        numbers = sorted({e.call.customer_e164 for e, _, _ in decided if e.call.customer_e164})
        held = holders or {}
        customers = await self.repo.customers_for([n for n in numbers if n not in held or held[n]])
        last = await self.repo.last_calls(
            sorted({(e.call.customer_e164, i) for e, i, _ in decided if e.call.customer_e164}),
            LAST_CALLS,
        )
        customer_ids = sorted({c.id for holders in customers.values() for c in holders})
        past_ids = sorted({c.id for rows in last.values() for c, _, _ in rows})
        extras = await self.repo.card_extras(
            customer_ids,
            past_ids,
            # This call's own code is shown once it is answered: only those are looked up.
            [i for e, i, _ in decided if e.call.answered_at is not None],
            datetime.now(ZoneInfo(self.time_zone)).date(),
            self.expiring_days,
            self.notice_months,
        )
        pops: list[dict[str, Any]] = []
        for event, call_id, rows in decided:
            e164 = event.call.customer_e164
            payload = self._payload(
                event,
                call_id,
                batch.users(event),
                customers.get(e164, []) if e164 else [],
                last.get((e164, call_id), []) if e164 else [],
                extras,
            )
            call = event.call
            at = call.changed_at
            pops += [
                {
                    "user_id": user_id,
                    "pbx": call.pbx,
                    "linkedid": call.linkedid,
                    "kind": pop_kind,
                    # event_at: for the pop-latency metric (app/metrics.py) and the panel.
                    "payload": {**payload, "state": state, "reason": reason, "event_at": at},
                }
                for user_id, pop_kind, state, reason in rows
            ]
        return await self.add(pops)

    async def add(self, pops: Sequence[dict[str, Any]]) -> list[int]:
        """Write messages for agents (``user_id``, ``pbx``, ``linkedid``, ``kind``,
        ``payload``) and NOTIFY every instance, delivered at commit."""
        return await self.repo.add_and_notify(pops, NOTIFY_CHANNEL)

    def _route(self, event: CallEvent, batch: _Batch) -> list[tuple[int, str, str, str]]:
        """Who gets what for this event: (user, kind, state, reason) rows."""
        call = event.call
        kind = event.kind
        users = batch.users(event)
        rows: list[tuple[int, str, str, str]] = []  # user, kind, state, reason
        open_users: dict[int, str] = {}
        if kind in ("answered", "transferred", "released", "ended"):
            open_users = {u: k for u, k in batch.recipients(call).items() if k == "pop"}

        if kind == "originating":
            # Tamas's click-to-call rings the agent's own phone first: "your phone is ringing".
            user_id = batch.originator(call)
            if user_id is None:
                user = users.get(event.device)
                user_id = user.id if user is not None else None
            if user_id is not None:
                rows.append((user_id, "pop", "agent_ringing", ""))
        elif kind in ("ringing", "dialling"):
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
        elif kind == "released":
            # The agents hung up and the caller stays on (a post-call survey): the call is
            # over for them now.
            for other in open_users:
                rows.append((other, "end", "ended", "ended"))
        elif kind == "ended":
            for other in open_users:
                if call.outcome == "answered":
                    rows.append((other, "end", "ended", "ended"))
                elif call.direction == "inbound":
                    rows.append((other, "withdraw", "ended", "caller_hung_up"))
                else:
                    reason = (failure_of_call(call) if call.origination else "") or call.outcome
                    rows.append((other, "withdraw", "ended", reason))
        batch.sent(call, rows)
        return rows

    def _payload(
        self,
        event: CallEvent,
        call_id: int,
        users: dict[str, Agent],
        customers: Sequence[Customer],
        last_calls: Sequence[tuple[PastCall, str | None, str | None]],
        extras: CardExtras,
    ) -> dict[str, Any]:
        call = event.call
        number = call.customer_number or (
            call.caller_number if call.direction == "internal" else call.called_number
        )
        last = [
            {
                "call_id": past.id,
                "started_at": past.started_at.isoformat(),
                "direction": past.direction,
                "outcome": past.outcome,
                "agent": full_name or username or extension_of(past.answered_by),
                "talk_seconds": past.talk_seconds,
                "disposition": past.disposition,
                "notes": extras.notes.get(past.id, []),
                "tracking_codes": extras.call_codes.get(past.id, []),
            }
            for past, full_name, username in last_calls
        ]
        transfer = call.transfers[-1] if call.transfers else None
        own_codes = extras.call_codes.get(call_id, [])
        own = {c["code"] for c in own_codes}
        return {
            "pbx": call.pbx,
            "linkedid": call.linkedid,
            "call_id": call_id,
            "direction": call.direction,
            "number": number,
            "number_display": display_number(number, self.region),
            "e164": call.customer_e164,
            # The party on the pop: an outbound call's is the customer being dialled, not
            # the agent calling (her own name while her phone rings, then the company's).
            "caller_name": call.caller_name if call.direction != "outbound" else "",
            "did": call.did,
            "queue": call.queue,
            "started_at": _iso(call.started_at),
            "answered_at": _iso(call.answered_at),
            "outcome": call.outcome,
            "answered_by": _name(users.get(answerer(call)), answerer(call)),
            "transferred_by": (
                _name(users.get(transfer.from_device), transfer.from_device) if transfer else ""
            ),
            "transferred_to": _name(users.get(transfer.to), transfer.to) if transfer else "",
            "origination": call.origination,
            "known": bool(customers),
            "customers": [
                customer_card(
                    c,
                    self.region,
                    extras.contracts.get(c.id),
                    [o for o in extras.open_codes.get(c.id, []) if o["code"] not in own],
                )
                for c in customers
            ],
            # The code issued for (or quoted on) this call, for the agent to read out once the
            # call is answered (shown apart from the customer's other open cases).
            "tracking_codes": own_codes if call.answered_at is not None else [],
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


class _Batch:
    """What routing a batch of call events reads, read once: the agents on every device the
    events name, and who holds pops of the calls that may withdraw them (kept up to date
    as the batch's own pops are decided, as the database would be after writing each)."""

    def __init__(
        self,
        device_users: list[tuple[str, Agent]],
        recipients: dict[tuple[str, str], dict[int, str]],
        originators: dict[str, tuple[int, str, str | None]],
    ) -> None:
        self._device_users = device_users
        self._recipients = recipients
        self._originators = originators
        self._users: dict[tuple[str, ...], dict[str, Agent]] = {}

    @classmethod
    async def read(cls, repo: PopRepository, events: Sequence[CallEvent]) -> _Batch:
        devices = {d for e in events for d in _devices(e)}
        device_users = await repo.device_users(sorted(devices))
        withdrawing: dict[str, set[str]] = {}
        for e in events:
            if e.kind in ("answered", "transferred", "ended"):
                withdrawing.setdefault(e.call.pbx, set()).add(e.call.linkedid)
        recipients: dict[tuple[str, str], dict[int, str]] = {}
        for pbx, linkedids in withdrawing.items():
            found = await repo.open_recipients(pbx, sorted(linkedids))
            recipients |= {(pbx, linkedid): kinds for linkedid, kinds in found.items()}
        refs = [
            e.call.origination
            for e in events
            if e.call.origination and (e.kind == "originating" or not e.call.customer_number)
        ]
        originators = await repo.originators(refs) if refs else {}
        return cls(device_users, recipients, originators)

    def originator(self, call: CallSnapshot) -> int | None:
        """The user who placed this click-to-call."""
        found = self._originators.get(call.origination)
        return found[0] if found is not None else None

    def completed(self, event: CallEvent) -> CallEvent:
        """A click-to-call's event before the customer is dialled knows only the agent's
        phone: the number comes from the click-to-call itself."""
        found = self._originators.get(event.call.origination)
        if found is None or event.call.customer_number:
            return event
        _, dialled, e164 = found
        call = replace(
            event.call,
            direction="outbound",
            called_number=dialled,
            customer_number=dialled,
            customer_e164=e164,
        )
        return replace(event, call=call)

    def users(self, event: CallEvent) -> dict[str, Agent]:
        """The agents on this event's devices (``device_users`` of those devices alone)."""
        devices = _devices(event)
        if devices not in self._users:
            self._users[devices] = users_by_device(self._device_users, devices)
        return self._users[devices]

    def recipients(self, call: CallSnapshot) -> dict[int, str]:
        return self._recipients.get((call.pbx, call.linkedid), {})

    def sent(self, call: CallSnapshot, rows: Sequence[tuple[int, str, str, str]]) -> None:
        kinds = self._recipients.get((call.pbx, call.linkedid))
        if kinds is not None:
            for user_id, kind, _state, _reason in rows:
                kinds.pop(user_id, None)  # now the agent's latest pop: last in the order
                kinds[user_id] = kind


def answerer(call: CallSnapshot) -> str:
    """Who has the call, as its pops say: the target of its last transfer once that target
    answered (the call log keeps the first to answer in ``answered_by``)."""
    if call.transfers:
        last = call.transfers[-1]
        for ring in reversed(call.rings):
            if ring.answered_at is not None and last.to in (ring.device, ring.extension):
                return ring.device
    return call.answered_by


def _devices(event: CallEvent) -> tuple[str, ...]:
    call = event.call
    devices = (event.device, event.from_device, event.to, call.answered_by, answerer(call))
    return tuple(d for d in devices if d)


def message(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A pop as it goes over the websocket."""
    return {"type": kind, "seq": seq, **payload}


def _is_target(call: CallSnapshot, device: str) -> bool:
    last = call.transfers[-1]
    return last.to in (device, extension_of(device))
