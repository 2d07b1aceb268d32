from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Row,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.contracts.status import contract_status
from app.models import (
    Call,
    CallNote,
    Contract,
    Customer,
    CustomerPhone,
    Origination,
    PopEvent,
    TrackingCode,
    TrackingCodeCall,
    User,
    UserDevice,
)


class Agent(NamedTuple):
    """An active user as the pops name them."""

    id: int
    username: str
    full_name: str


class PastCall(NamedTuple):
    """One of a number's earlier calls, as its card lists them (columns of ``calls``)."""

    id: int
    started_at: datetime
    direction: str
    outcome: str
    answered_by: str
    talk_seconds: float
    disposition: str


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@dataclass
class CardExtras:
    """What a pop shows beside the call and the customers: each customer's contract status
    and open tracking codes, and each call's notes and tracking codes."""

    contracts: dict[int, dict[str, Any]] = field(default_factory=dict)
    open_codes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    call_codes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def _code(code: TrackingCode) -> dict[str, Any]:
    return _code_of(code.code, code.status, code.subject, code.created_at)


def _code_of(code: str, status: str, subject: str, created_at: datetime) -> dict[str, Any]:
    return {
        "code": code,
        "status": status,
        "subject": subject,
        "created_at": created_at.isoformat(),
    }


class PopRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def device_users(self, devices: Sequence[str]) -> list[tuple[str, Agent]]:
        """(device, agent) for the active users' devices among ``devices``; a bare extension
        (``1002``, as a blind transfer names its target) matches any technology's device
        with that name. ``users_by_device`` picks out those of any of these devices."""
        wanted = sorted({d for d in devices if d})
        if not wanted:
            return []
        params = {
            "devices": wanted,
            # A bare extension matches any technology's device of that name.
            "patterns": [f"%/{d}" for d in wanted if "/" not in d],
        }
        rows = (await self.session.execute(_device_users(), params)).all()
        return [(device, Agent(i, username, full_name)) for device, i, username, full_name in rows]

    async def open_recipients(
        self, pbx: str, linkedids: Sequence[str]
    ) -> dict[str, dict[int, str]]:
        """For each of these calls, each agent who got pops for it, with the kind of the
        latest one; agents in the order of their latest pops."""
        if not linkedids:
            return {}
        out: dict[str, dict[int, str]] = {linkedid: {} for linkedid in linkedids}
        params = {"pbx": pbx, "linkedids": list(linkedids)}
        for linkedid, user_id, kind in (await self.session.execute(_recipients(), params)).all():
            out[linkedid][user_id] = kind
        return out

    async def card_extras(
        self,
        customer_ids: Sequence[int],
        past_call_ids: Sequence[int],
        call_ids: Sequence[int],
        today: date,
        expiring_days: int,
        notice_months: int = 0,
    ) -> CardExtras:
        out = CardExtras()
        if customer_ids:
            contracts: dict[int, list[Contract]] = {c: [] for c in customer_ids}
            stmt = select(Contract).where(
                Contract.customer_id == any_(_array(customer_ids, BigInteger))
            )
            for contract in (await self.session.execute(stmt)).scalars():
                contracts[contract.customer_id].append(contract)
            out.contracts = {
                c: contract_status(rows, today, expiring_days, notice_months).as_dict()
                for c, rows in contracts.items()
            }
            stmt2 = (
                select(TrackingCode)
                .where(
                    TrackingCode.customer_id == any_(_array(customer_ids, BigInteger)),
                    TrackingCode.status == "open",
                )
                .order_by(TrackingCode.created_at.desc())
            )
            for code in (await self.session.execute(stmt2)).scalars():
                assert code.customer_id is not None
                out.open_codes.setdefault(code.customer_id, []).append(_code(code))
        if past_call_ids:
            stmt3 = (
                select(CallNote, User.full_name, User.username)
                .outerjoin(User, User.id == CallNote.user_id)
                .where(CallNote.call_id == any_(_array(past_call_ids, BigInteger)))
                .order_by(CallNote.created_at, CallNote.id)
            )
            for note, full_name, username in (await self.session.execute(stmt3)).all():
                out.notes.setdefault(note.call_id, []).append(
                    {
                        "text": note.text,
                        "by": full_name or username or "",
                        "at": note.created_at.isoformat(),
                    }
                )
        wanted = sorted({*past_call_ids, *call_ids})
        if wanted:
            found = await self.session.execute(_call_codes(), {"call_ids": wanted})
            for call_id, text_, status, subject, created_at in found.all():
                out.call_codes.setdefault(call_id, []).append(
                    _code_of(text_, status, subject, created_at)
                )
        return out

    async def originators(self, refs: Sequence[str]) -> dict[str, tuple[int, str, str | None]]:
        """Who placed each of these click-to-calls (by ref), and the number it dials
        (as dialled, and in E.164)."""
        if not refs:
            return {}
        stmt = select(
            Origination.ref, Origination.user_id, Origination.dialled, Origination.e164
        ).where(Origination.ref == any_(_array(sorted(set(refs)), String)))
        rows = (await self.session.execute(stmt)).all()
        return {ref: (user_id, dialled, e164) for ref, user_id, dialled, e164 in rows}

    async def customers_for(self, e164s: Sequence[str]) -> dict[str, list[Customer]]:
        """The holders of each of these numbers (by id), with their numbers loaded."""
        out: dict[str, list[Customer]] = {e164: [] for e164 in e164s}
        if not e164s:
            return out
        stmt = (
            select(CustomerPhone.e164, Customer)
            .join(Customer, Customer.id == CustomerPhone.customer_id)
            .where(CustomerPhone.e164 == any_(_array(e164s, String)))
            .options(selectinload(Customer.phones))
            .order_by(Customer.id)
        )
        for e164, customer in (await self.session.execute(stmt)).all():
            holders = out[e164]
            # One number held twice by a customer (two extensions) is still one holder.
            if not holders or holders[-1].id != customer.id:
                holders.append(customer)
        return out

    async def last_calls(
        self, keys: Sequence[tuple[str, int]], limit: int = 5
    ) -> dict[tuple[str, int], list[tuple[PastCall, str | None, str | None]]]:
        """For each (number, call id): the number's latest ``limit`` calls but that one, with
        the names of the agents who answered them."""
        out: dict[tuple[str, int], list[tuple[PastCall, str | None, str | None]]]
        out = {key: [] for key in keys}
        if not keys:
            return out
        params = {
            "e164s": [e164 for e164, _ in keys],
            "call_ids": [call_id for _, call_id in keys],
            "limit": limit,
        }
        result = await self.session.execute(_last_calls(), params)
        for e164, call_id, *past, full_name, username in result.all():
            out[(e164, call_id)].append((PastCall(*past), full_name, username))
        return out

    async def add_and_notify(self, rows: Sequence[dict[str, Any]], channel: str) -> list[int]:
        """Write these pops and NOTIFY ``channel`` (delivered at commit) in one statement;
        their ids, in the rows' order. The notification carries the pops themselves,
        ``{"pops": [[id, user_id, kind, payload], ...]}``, when that fits in a notification
        (PostgreSQL's limit is 8,000 bytes): every instance then hands them to its agents
        without reading them back. Otherwise only their ids, ``[id, ...]``, to be fetched."""
        if not rows:
            return []
        params = {
            "user_ids": [r["user_id"] for r in rows],
            "pbxes": [r["pbx"] for r in rows],
            "linkedids": [r["linkedid"] for r in rows],
            "kinds": [r["kind"] for r in rows],
            "payloads": [json.dumps(r["payload"]) for r in rows],
            "channel": channel,
            "limit": NOTIFY_LIMIT,
        }
        ids = (await self.session.execute(_ADD_AND_NOTIFY, params)).scalar_one()
        return [int(i) for i in ids]

    async def notify(self, channel: str, payload: str) -> None:
        # Delivered by PostgreSQL when (and only if) this transaction commits.
        await self.session.execute(select(func.pg_notify(channel, payload)))

    async def events(
        self, ids: Sequence[int], user_ids: Sequence[int]
    ) -> Sequence[Row[int, int, str, dict[str, Any]]]:
        """(id, user_id, kind, payload) of these pops for these agents, by id: plain rows,
        not entities (the ORM's bookkeeping for objects only read once cost more than the
        query, at every notification)."""
        params = {"ids": list(ids), "user_ids": list(user_ids)}
        rows: Sequence[Row[int, int, str, dict[str, Any]]]
        rows = (await self.session.execute(_events(), params)).all()
        return rows

    async def missed(self, user_id: int, after: int | None) -> Sequence[PopEvent]:
        """What a (re)connecting client needs: for each call, the newest message it has not
        seen. A client that saw nothing yet (``after`` None) gets the calls still ringing or
        in progress; one that resumes also gets the withdrawals of cards it may still show.
        Only the last day is looked at."""
        latest = (
            select(func.max(PopEvent.id))
            .where(
                PopEvent.user_id == user_id,
                PopEvent.created_at > func.now() - func.make_interval(0, 0, 0, 1),
            )
            .group_by(PopEvent.pbx, PopEvent.linkedid)
        )
        stmt = select(PopEvent).where(PopEvent.id.in_(latest))
        if after is None:
            stmt = stmt.where(PopEvent.kind == "pop")
        else:
            stmt = stmt.where(PopEvent.id > after)
        return (await self.session.execute(stmt.order_by(PopEvent.id))).scalars().all()

    async def last_id(self, user_id: int) -> int:
        stmt = select(func.max(PopEvent.id)).where(PopEvent.user_id == user_id)
        return int((await self.session.execute(stmt)).scalar_one() or 0)


# PostgreSQL refuses a notification payload of 8,000 bytes or more; kept under it with room.
NOTIFY_LIMIT = 7900

# The pops are inserted in the given order (ids ascending with it); the notification is built
# by PostgreSQL from what was inserted, so it says exactly what a fetch of those ids would.
_ADD_AND_NOTIFY = text(
    """
WITH added AS (
    INSERT INTO pop_events (user_id, pbx, linkedid, kind, payload)
    SELECT r.user_id, r.pbx, r.linkedid, r.kind, r.payload::jsonb
    FROM unnest(:user_ids, :pbxes, :linkedids, :kinds, :payloads)
        WITH ORDINALITY AS r (user_id, pbx, linkedid, kind, payload, n)
    ORDER BY r.n
    RETURNING id, user_id, kind, payload
), announced AS (
    SELECT
        array_agg(id ORDER BY id) AS ids,
        json_build_object(
            'pops', json_agg(json_build_array(id, user_id, kind, payload) ORDER BY id)
        )::text AS whole,
        json_agg(id ORDER BY id)::text AS bare
    FROM added
)
SELECT ids, pg_notify(:channel, CASE WHEN octet_length(whole) < :limit THEN whole ELSE bare END)
FROM announced
"""
).bindparams(
    bindparam("user_ids", type_=ARRAY(BigInteger)),
    bindparam("pbxes", type_=ARRAY(String)),
    bindparam("linkedids", type_=ARRAY(String)),
    bindparam("kinds", type_=ARRAY(String)),
    bindparam("payloads", type_=ARRAY(String)),
    bindparam("channel", type_=String),
    bindparam("limit", type_=BigInteger),
)


# The statements read for every batch are built once, with array parameters: building one
# (columns, operators, coercions) cost more than running it.
@cache
def _device_users() -> Select[str, int, str, str]:
    devices, users = _table(UserDevice), _table(User)
    return (
        select(devices.c.device, users.c.id, users.c.username, users.c.full_name)
        .join(users, users.c.id == devices.c.user_id)
        .where(
            or_(
                devices.c.device == any_(bindparam("devices", type_=ARRAY(String))),
                devices.c.device.like(any_(bindparam("patterns", type_=ARRAY(String)))),
            ),
            users.c.is_active.is_(True),
        )
    )


@cache
def _call_codes() -> Select[int, str, str, str, datetime]:
    links, codes = _table(TrackingCodeCall), _table(TrackingCode)
    return (
        select(links.c.call_id, codes.c.code, codes.c.status, codes.c.subject, codes.c.created_at)
        .join(codes, codes.c.id == links.c.tracking_code_id)
        .where(links.c.call_id == any_(bindparam("call_ids", type_=ARRAY(BigInteger))))
        .order_by(codes.c.id)
    )


@cache
def _events() -> Select[int, int, str, dict[str, Any]]:
    # Arrays, not IN lists: ``user_ids`` is every agent connected to this instance, and an
    # IN list of a thousand parameters is rendered, sent and planned anew for every
    # notification (about 7 ms with 1,000 agents, against 1 ms this way).
    table = _pop_table()
    return (
        select(table.c.id, table.c.user_id, table.c.kind, table.c.payload)
        .where(
            table.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
            table.c.user_id == any_(bindparam("user_ids", type_=ARRAY(BigInteger))),
        )
        .order_by(table.c.id)
    )


def _pop_table() -> Table:
    return _table(PopEvent)


@cache
def _recipients() -> Select[str, int, str]:
    latest = (
        select(func.max(PopEvent.id))
        .where(
            PopEvent.pbx == bindparam("pbx"),
            PopEvent.linkedid == any_(bindparam("linkedids", type_=ARRAY(String))),
        )
        .group_by(PopEvent.linkedid, PopEvent.user_id)
    )
    return (
        select(PopEvent.linkedid, PopEvent.user_id, PopEvent.kind)
        .where(PopEvent.id.in_(latest))
        .order_by(PopEvent.id)
    )


@cache
def _last_calls() -> Select[Any]:
    """The statement of ``last_calls``, built once: a LATERAL subquery costs more to build
    than the query takes to run. Plain columns, not Call entities: the card shows a few."""
    wanted = (
        func.unnest(
            bindparam("e164s", type_=ARRAY(String)),
            bindparam("call_ids", type_=ARRAY(BigInteger)),
        )
        .table_valued("e164", "call_id")
        .render_derived()
    )
    calls, users = _table(Call), _table(User)
    recent = (
        select(*(calls.c[name] for name in PastCall._fields), users.c.full_name, users.c.username)
        .outerjoin(users, users.c.id == calls.c.answered_by_user_id)
        .where(calls.c.customer_e164 == wanted.c.e164, calls.c.id != wanted.c.call_id)
        .order_by(calls.c.started_at.desc())
        .limit(bindparam("limit"))
        .lateral()
    )
    return (
        select(
            wanted.c.e164,
            wanted.c.call_id,
            *(recent.c[name] for name in PastCall._fields),
            recent.c.full_name,
            recent.c.username,
        )
        .select_from(wanted)
        .join(recent, true())
        .order_by(wanted.c.e164, wanted.c.call_id, recent.c.started_at.desc())
    )


def users_by_device(rows: Sequence[tuple[str, Agent]], devices: Sequence[str]) -> dict[str, Agent]:
    """Active users by device, for ``devices``, from ``device_users`` rows read for these
    devices and maybe more: the rows ``device_users(devices)`` would have returned (the
    device itself, or for a bare extension ``LIKE '%/ext'``), each under its device and
    under its bare extension."""
    wanted = {d for d in devices if d}
    bare = [d for d in wanted if "/" not in d]
    # '%/1002' matches what ends in '/1002': a device whose last part is 1002. Only an
    # extension with LIKE's own marks in it needs the pattern.
    plain = {d for d in bare if not any(c in d for c in "%_\\")}
    suffixes = [_like(f"%/{d}") for d in bare if d not in plain]
    found: dict[str, Agent] = {}
    for device, user in rows:
        if (
            device in wanted
            or (device.rsplit("/", 1)[-1] in plain and "/" in device)
            or any(s.fullmatch(device) for s in suffixes)
        ):
            found[device] = user
            found.setdefault(device.rsplit("/", 1)[-1], user)
    return found


def _like(pattern: str) -> re.Pattern[str]:
    """A SQL LIKE pattern (backslash escapes) as a regular expression."""
    out = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars, "")))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def _array(values: Sequence[Any], of: type[String] | type[BigInteger]) -> BindParameter[Any]:
    """One array parameter (``= ANY(...)``) instead of an IN list of one parameter each."""
    return bindparam(None, list(values), type_=ARRAY(of))
