from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    SmallInteger,
    Text,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.db import HotRead
from app.models import Customer, CustomerPhone, CustomerTerm, User


@dataclass(frozen=True)
class SearchVector:
    """Lexemes per weight: A name, B company, C numbers, D email and tags."""

    name: Sequence[str]
    company: Sequence[str]
    numbers: Sequence[str]
    other: Sequence[str]


@dataclass(frozen=True)
class SearchFilter:
    # tsquery text built from sanitised lexemes (see service), or None.
    query: str | None = None
    tags: Sequence[str] = ()
    owner_id: int | None = None
    priority: str | None = None
    after: tuple[str, int] | None = None
    limit: int = 50
    # The same query as customer_terms rows: any of these groups, a customer having every
    # (field, term) of the group. None when the table cannot answer it (see the service).
    terms: Sequence[Sequence[tuple[int, str]]] | None = None


@dataclass(frozen=True, slots=True)
class HolderPhone:
    id: int
    raw: str
    e164: str
    extension: str
    label: str


@dataclass(frozen=True, slots=True)
class Holder:
    """A customer holding a number, as a lookup reads it: plain values from one row, not an
    ORM object (nothing to track, refresh or load later). Same attribute names as
    ``Customer``, so ``CustomerRead`` reads either."""

    id: int
    kind: str
    name: str
    company: str
    address: str
    email: str | None
    notes: str
    tags: list[str]
    priority: str | None
    owner_id: int | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    phones: tuple[HolderPhone, ...]


_CUSTOMER_FIELDS = [f for f in Holder.__slots__ if f != "phones"]
_PHONE_FIELDS = ["id", "raw", "e164", "extension", "label"]


def _holders_statement() -> Select[Any]:
    """One row per number of every customer holding the number: the customers' columns,
    then the phone's (``phone_id``, ...). A join, not an aggregate: rows are cheaper to
    build on the server and to read here than JSON."""
    # Core columns, not ORM attributes: the rows are read as plain values.
    c, p = Customer.__table__.c, CustomerPhone.__table__.c
    holding = select(p.customer_id).where(p.e164 == bindparam("e164"))
    phone = [p.id.label("phone_id"), *(p[f] for f in _PHONE_FIELDS[1:])]
    return (
        select(*(c[f] for f in _CUSTOMER_FIELDS), *phone)
        .join_from(Customer.__table__, CustomerPhone.__table__, p.customer_id == c.id)
        .where(c.id.in_(holding))
        .order_by(c.id, p.id)
    )


# Built once: every lookup by number sends this one statement (see HotRead).
_HOLDERS = HotRead(_holders_statement())


def _holders(rows: Sequence[dict[str, Any]]) -> list[Holder]:
    """Rows of ``_HOLDERS``, grouped by customer."""
    holders: list[Holder] = []
    current: list[Any] = []

    def close() -> None:
        first = current[0]
        phones = tuple(
            HolderPhone(r["phone_id"], r["raw"], r["e164"], r["extension"], r["label"])
            for r in current
        )
        holders.append(Holder(**{f: first[f] for f in _CUSTOMER_FIELDS}, phones=phones))

    for row in rows:
        if current and current[0]["id"] != row["id"]:
            close()
            current = []
        current.append(row)
    if current:
        close()
    return holders


# How many customers, in name order, a search tests before it asks the GIN index instead.
WALK = 2000

# Whether a search the customer_terms table can answer is answered from it (the benchmark
# turns it off to compare with the search_vector's answer).
USE_TERMS = True

# Every query that returns customers loads their numbers with them (no lazy loads).
_PHONES = selectinload(Customer.phones)


# tsvector positions stop at 16383; later lexemes share the last one (weights still hold).
_MAX_POSITION = 16383


def tsvector_text(vector: SearchVector) -> str:
    """The tsvector input text for ``vector``: every lexeme with a position, since a weight
    is stored on a position (a lexeme without one has no weight and a ``:B`` filter would not
    see it)."""
    parts: list[str] = []
    position = 0
    for weight, lexemes in (
        ("A", vector.name),
        ("B", vector.company),
        ("C", vector.numbers),
        ("D", vector.other),
    ):
        for lexeme in lexemes:
            position = min(position + 1, _MAX_POSITION)
            quoted = lexeme.replace("\\", "\\\\").replace("'", "''")
            parts.append(f"'{quoted}':{position}{weight}")
    return " ".join(parts)


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: int) -> Customer | None:
        stmt = select(Customer).where(Customer.id == customer_id).options(_PHONES)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_external_id(self, external_id: str) -> Customer | None:
        stmt = select(Customer).where(Customer.external_id == external_id).options(_PHONES)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, customer: Customer) -> Customer:
        self.session.add(customer)
        await self.session.flush()
        return customer

    async def delete(self, customer: Customer) -> None:
        await self.session.delete(customer)
        await self.session.flush()

    async def reload(self, customer: Customer) -> Customer:
        await self.session.refresh(customer, ["phones"])
        return customer

    async def set_search_vector(self, customer_id: int, vector: SearchVector) -> None:
        combined = cast(tsvector_text(vector), TSVECTOR)
        stmt = update(Customer).where(Customer.id == customer_id).values(search_vector=combined)
        # The vector is never loaded into objects: nothing in the session to synchronise.
        await self.session.execute(stmt, execution_options={"synchronize_session": False})

    async def ids_holding_numbers(self, e164s: Sequence[str]) -> list[int]:
        stmt = select(CustomerPhone.customer_id).where(CustomerPhone.e164.in_(e164s)).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def by_number(self, e164: str) -> list[Holder]:
        """Every customer holding ``e164``, with all their numbers, in one statement (index
        lookups on customer_phones.e164 and the customers' keys).

        Every caller lookup asks this: one round trip (``app.db.HotRead``)."""
        rows = await _HOLDERS.rows(self.session, {"e164": e164})
        return _holders(rows)

    async def find_for_import(
        self, sort_key: str, company: str, e164s: Sequence[str]
    ) -> Customer | None:
        """The customer an imported row is a re-run of: same normalised name and one of the
        same numbers; without numbers, same name and company and no numbers."""
        stmt = select(Customer).where(Customer.sort_key == sort_key)
        if e164s:
            holders = select(CustomerPhone.customer_id).where(CustomerPhone.e164.in_(e164s))
            stmt = stmt.where(Customer.id.in_(holders))
        else:
            no_phones = (
                ~select(CustomerPhone.id).where(CustomerPhone.customer_id == Customer.id).exists()
            )
            stmt = stmt.where(Customer.company == company, no_phones)
        stmt = stmt.options(_PHONES).order_by(Customer.id).limit(1)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def batch_after(self, after_id: int, size: int) -> Sequence[Customer]:
        """Customers with an id above ``after_id``, in id order (for walking the table)."""
        stmt = (
            select(Customer)
            .where(Customer.id > after_id)
            .options(_PHONES)
            .order_by(Customer.id)
            .limit(size)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def search(self, flt: SearchFilter) -> Sequence[Customer]:
        """The first ``flt.limit`` customers matching ``flt`` in name order, after the cursor.

        A query whose words customer_terms holds is read from it (``_term_page``). The rest
        (long words, other digit runs, the owner and priority filters) take two steps,
        because neither plan is good for every query. A common word matches
        customers all through the name order: walking ``ix_customers_sort_key_id`` finds a
        page in a few hundred rows. A rare one (or one whose names sit late in the order)
        makes that walk read most of the table: then the GIN index gives the few matches to
        sort. So: test the next ``WALK`` customers in name order; if they hold a full page,
        that is the answer (the first matches of a prefix of the order are the first
        matches); otherwise take the matches from the GIN index and sort them (the order
        expression is not indexed, so the planner cannot choose the unbounded walk)."""
        if flt.query is None and not flt.tags:
            return await self._page(self._filtered(select(Customer), flt), flt, indexed=True)
        if USE_TERMS and flt.terms and flt.owner_id is None and flt.priority is None:
            return await self._term_page(flt.terms, flt)
        walk = self._after(select(Customer.id), flt)
        walk = walk.order_by(Customer.sort_key, Customer.id).limit(WALK)
        first = self._filtered(select(Customer), flt).where(Customer.id.in_(walk.scalar_subquery()))
        rows = await self._page(first, flt, indexed=True)
        if len(rows) >= flt.limit:
            return rows
        return await self._page(self._filtered(select(Customer), flt), flt, indexed=False)

    async def _term_page(
        self, groups: Sequence[Sequence[tuple[int, str]]], flt: SearchFilter
    ) -> Sequence[Customer]:
        """The page from customer_terms: each group's first customers in name order, merged,
        then those customers (with their numbers) in one statement."""
        keys: dict[int, str] = {}
        for group in groups:
            keys.update((cid, key) for key, cid in await self._term_group(group, flt))
        page = sorted(keys, key=lambda cid: (keys[cid], cid))[: flt.limit]
        if not page:
            return []
        return await self._page(select(Customer).where(Customer.id.in_(page)), flt, indexed=True)

    async def _term_group(
        self, group: Sequence[tuple[int, str]], flt: SearchFilter
    ) -> Sequence[tuple[str, int]]:
        """(sort_key, id) of the first customers having every term of ``group``, in name
        order. One term: one range of the key. Several: a leapfrog over their ranges in the
        database (``customer_terms_all``, see the migration), one seek per step."""
        if len(group) == 1:
            [(field, term)] = group
            t = CustomerTerm.__table__.alias("t")
            stmt = select(t.c.sort_key, t.c.customer_id).where(t.c.field == field, t.c.term == term)
            if flt.after is not None:
                stmt = stmt.where(tuple_(t.c.sort_key, t.c.customer_id) > tuple_(*flt.after))
            stmt = stmt.order_by(t.c.sort_key, t.c.customer_id).limit(flt.limit)
        else:
            after_key, after_id = flt.after if flt.after is not None else (None, None)
            every = func.customer_terms_all(
                cast([f for f, _ in group], ARRAY(SmallInteger)),
                cast([t for _, t in group], ARRAY(Text)),
                cast(after_key, Text),
                cast(after_id, BigInteger),
                flt.limit,
            ).table_valued("sort_key", "customer_id")
            stmt = select(every.c.sort_key, every.c.customer_id)
        return [(r[0], r[1]) for r in await self.session.execute(stmt)]

    def _after(self, stmt: Select[Any], flt: SearchFilter) -> Select[Any]:
        if flt.after is not None:
            stmt = stmt.where(tuple_(Customer.sort_key, Customer.id) > tuple_(*flt.after))
        return stmt

    def _filtered(self, stmt: Select[Any], flt: SearchFilter) -> Select[Any]:
        if flt.query is not None:
            stmt = stmt.where(Customer.search_vector.op("@@")(cast(flt.query, TSQUERY)))
        if flt.tags:
            stmt = stmt.where(Customer.tags.contains(list(flt.tags)))
        if flt.owner_id is not None:
            stmt = stmt.where(Customer.owner_id == flt.owner_id)
        if flt.priority is not None:
            stmt = stmt.where(Customer.priority == flt.priority)
        return self._after(stmt, flt)

    async def _page(
        self, stmt: Select[Any], flt: SearchFilter, *, indexed: bool
    ) -> Sequence[Customer]:
        key = Customer.sort_key if indexed else Customer.sort_key.concat("")
        stmt = stmt.options(_PHONES).order_by(key, Customer.id).limit(flt.limit)
        rows: Sequence[Customer] = (await self.session.execute(stmt)).scalars().all()
        return rows

    async def phone(self, customer_id: int, phone_id: int) -> CustomerPhone | None:
        stmt = select(CustomerPhone).where(
            CustomerPhone.id == phone_id, CustomerPhone.customer_id == customer_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def delete_phone(self, phone: CustomerPhone) -> None:
        await self.session.execute(delete(CustomerPhone).where(CustomerPhone.id == phone.id))

    async def user_exists(self, user_id: int) -> bool:
        stmt = select(text("1")).select_from(User).where(User.id == user_id)
        return (await self.session.execute(stmt)).first() is not None
