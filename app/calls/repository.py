from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Float,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import Base, Call, CallCustomer, CallLeg, UserDevice

_CALL_KEY = ["pbx", "linkedid"]
_LEG_KEY = ["pbx", "uniqueid"]


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# The write statements are built once and take the rows as parameters: a batch of calls reuses
# one compiled statement per table and sends its rows together (executemany; the calls as one
# multi-row INSERT ... RETURNING), instead of building, hashing and compiling a statement and
# making a round trip per call.
def _user_on(device_param: str) -> Any:
    """The user whose device is the row's ``device_param`` (NULL for none, or no device):
    looked up by the write itself, not by a statement of its own before it."""
    wanted = bindparam(device_param, type_=String)
    return select(UserDevice.user_id).where(UserDevice.device == wanted).scalar_subquery()


def _columns(keys: tuple[str, ...], lookup: str, column: str) -> list[str]:
    return [column if k == lookup else k for k in keys]


@cache
def _call_upsert(keys: tuple[str, ...]) -> Any:
    calls = _table(Call)
    stmt = insert(calls).values({"answered_by_user_id": _user_on("answered_by_device")})
    columns = _columns(keys, "answered_by_device", "answered_by_user_id")
    update: dict[str, Any] = {k: stmt.excluded[k] for k in columns if k not in _CALL_KEY}
    update["updated_at"] = func.now()
    upsert = stmt.on_conflict_do_update(index_elements=_CALL_KEY, set_=update)
    # Who holds each call's number comes back with the call (a statement less a batch).
    # Written out: SQLAlchemy does not correlate a subquery of RETURNING with the row.
    holders = literal_column(
        "(SELECT array_agg(DISTINCT customer_phones.customer_id) FROM customer_phones"
        " WHERE customer_phones.e164 = calls.customer_e164)",
        ARRAY(BigInteger),
    )
    return upsert.returning(calls.c.id, calls.c.pbx, calls.c.linkedid, holders)


@cache
def _leg_upsert(keys: tuple[str, ...]) -> Any:
    stmt = insert(_table(CallLeg)).values({"user_id": _user_on("user_device")})
    columns = _columns(keys, "user_device", "user_id")
    update = {k: stmt.excluded[k] for k in columns if k not in _LEG_KEY}
    return stmt.on_conflict_do_update(index_elements=_LEG_KEY, set_=update)


@cache
def _link() -> Any:
    return insert(_table(CallCustomer)).on_conflict_do_nothing()


class CallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete(self, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            await self.session.execute(
                delete(Call).where(tuple_(Call.pbx, Call.linkedid).in_(list(keys)))
            )

    async def upsert(
        self, rows: Sequence[dict[str, Any]]
    ) -> dict[tuple[str, str], tuple[int, list[int]]]:
        """Insert or update calls by (pbx, linkedid), one statement for them all; by (pbx,
        linkedid) their ids and the customers holding their ``customer_e164`` (none
        without one). One (pbx, linkedid) appears at most once in ``rows``. Each row gives
        ``answered_by_device`` (or None) for ``answered_by_user_id``: its user."""
        if not rows:
            return {}
        result = await self.session.execute(_call_upsert(tuple(rows[0])), list(rows))
        return {
            (pbx, linkedid): (int(id_), sorted(holders or ()))
            for id_, pbx, linkedid, holders in result.all()
        }

    async def upsert_legs(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or update legs by (pbx, uniqueid). A leg given twice ends as the later row
        says, as if the rows had been written one after the other. Each row gives
        ``user_device`` (or None) for ``user_id``: its user."""
        if not rows:
            return
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            latest[(row["pbx"], row["uniqueid"])] = row
        await self.session.execute(_leg_upsert(tuple(rows[0])), list(latest.values()))

    async def link_customers(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Link calls to customers: (call id, customer id) pairs; existing links are kept."""
        if not pairs:
            return
        rows = [{"call_id": c, "customer_id": k} for c, k in dict.fromkeys(pairs)]
        await self.session.execute(_link(), rows)

    async def link_stored_calls(self, customer_id: int, e164s: Sequence[str]) -> int:
        """Link every stored call with one of these numbers to the customer (a customer
        saved after their call, or given a number they have called from): how many links
        were made."""
        if not e164s:
            return 0
        links = _table(CallCustomer)
        chosen = select(Call.id, literal(customer_id, BigInteger)).where(
            Call.customer_e164.in_(sorted(set(e164s)))
        )
        stmt = (
            insert(links)
            .from_select(["call_id", "customer_id"], chosen)
            .on_conflict_do_nothing()
            .returning(links.c.call_id)
        )
        return len((await self.session.execute(stmt)).all())

    async def close_unseen(
        self, pbx: str, live: frozenset[str], at: datetime, reason: str
    ) -> list[int]:
        """End this PBX's calls stored as still up whose linkedid is not in ``live`` (and
        their open legs) at ``at``: answered ones as answered with the talk time up to then,
        others as missed with no answer (inbound) or failed. The ids of the calls closed."""
        calls = _table(Call)
        legs = _table(CallLeg)
        answered = calls.c.answered_at.is_not(None)
        stmt = (
            calls.update()
            .where(
                calls.c.pbx == pbx,
                calls.c.outcome == "live",
                calls.c.linkedid.not_in(list(live)) if live else literal_column("true"),
            )
            .values(
                ended_at=func.greatest(at, calls.c.started_at),
                outcome=case(
                    (answered, "answered"),
                    (calls.c.direction == "inbound", "missed"),
                    else_="failed",
                ),
                missed_reason=case(
                    (and_(~answered, calls.c.direction == "inbound"), "no_answer"),
                    else_="",
                ),
                talk_seconds=case(
                    (
                        answered,
                        func.greatest(0.0, func.extract("epoch", at - calls.c.answered_at)).cast(
                            Float
                        ),
                    ),
                    else_=calls.c.talk_seconds,
                ),
                end_reason=reason,
            )
            .returning(calls.c.id)
        )
        ids = [int(i) for i in (await self.session.execute(stmt)).scalars()]
        if ids:
            await self.session.execute(
                legs.update()
                .where(legs.c.call_id.in_(ids), legs.c.ended_at.is_(None))
                .values(ended_at=func.greatest(at, legs.c.created_at))
            )
        return ids

    async def get(self, call_id: int) -> Call | None:
        stmt = select(Call).where(Call.id == call_id).options(selectinload(Call.legs))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def customer_ids_of(self, call_id: int) -> list[int]:
        stmt = select(CallCustomer.customer_id).where(CallCustomer.call_id == call_id)
        return list((await self.session.execute(stmt)).scalars())

    async def timeline(
        self, customer_id: int, *, before: tuple[datetime, int] | None, limit: int
    ) -> Sequence[Call]:
        """A customer's calls, newest first (keyset on started_at, id)."""
        stmt = (
            select(Call)
            .join(CallCustomer, CallCustomer.call_id == Call.id)
            .where(CallCustomer.customer_id == customer_id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(tuple_(Call.started_at, Call.id) < tuple_(*before))
        return (await self.session.execute(stmt)).scalars().all()

    async def export(self, *, since: datetime | None, after_id: int, limit: int) -> Sequence[Call]:
        stmt = select(Call).where(Call.id > after_id).order_by(Call.id).limit(limit)
        if since is not None:
            stmt = stmt.where(Call.started_at >= since)
        return (await self.session.execute(stmt)).scalars().all()
