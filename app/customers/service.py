"""Customers, their numbers, lookup by number and phonebook search."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.repository import CallRepository
from app.config import Settings
from app.customers.importer import ImportRow, RowError
from app.customers.repository import CustomerRepository, Holder, SearchFilter, SearchVector
from app.customers.schemas import CustomerCreate, CustomerUpdate, PhoneIn
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models import TERM_ANY, TERM_COMPANY, TERM_TAG, Customer, CustomerPhone, Role, User
from app.phones import InvalidPhoneNumber, PhoneNumber, digits_of, parse_phone, try_parse_phone
from app.schemas import MAX_BIGINT
from app.textnorm import normalize, order_key, tokens

# Digit runs shorter than this are not indexed as number fragments.
MIN_NUMBER_FRAGMENT = 3
_NUMBERISH = re.compile(r"^[\d\s+()\-./]+$")


@dataclass(frozen=True)
class LookupOutcome:
    number: str
    parsed: PhoneNumber | None
    customers: Sequence[Holder]


@dataclass
class ImportCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _suffixes(digits: str) -> list[str]:
    return [digits[i:] for i in range(len(digits) - MIN_NUMBER_FRAGMENT + 1)]


def number_lexemes(e164: str, national: str) -> list[str]:
    """Every suffix of the international and national digit strings: a prefix query on these
    finds any run of digits inside the number."""
    return sorted(set(_suffixes(e164.lstrip("+")) + _suffixes(digits_of(national))))


def sort_key_of(name: str) -> str:
    """The name's place in the phonebook order (Persian alphabetical order, see
    ``app.textnorm.order_key``). Normalising can lengthen text (ﷲ becomes four letters): cut
    to the column's length."""
    return order_key(name)[:200]


def encode_cursor(sort_key: str, customer_id: int) -> str:
    raw = json.dumps([sort_key, customer_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, cid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        # bool is an int in Python; a NUL or an id beyond bigint would reach the database.
        if type(key) is not str or "\x00" in key or type(cid) is not int:
            raise ValueError
        if not 1 <= cid <= MAX_BIGINT:
            raise ValueError
        return key, cid
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this API returned", field="cursor") from exc


def build_tsquery(q: str) -> str | None:
    """A tsquery matching every word of ``q`` as a prefix. A query of digits and phone
    punctuation is one number fragment. Lexemes are letters and digits only, so quoting them
    is safe."""
    text = q.strip()
    if not text:
        return None
    words = [digits_of(text)] if _NUMBERISH.match(normalize(text)) else tokens(text)
    words = [w for w in words if w]
    if not words:
        return None
    every_word = " & ".join(f"'{w}':*" for w in words)
    if len(words) == 1:
        return every_word
    # "علی رضا" also finds "علیرضا" (a space typed where the name has none).
    return f"({every_word}) | '{''.join(words)}':*"


# Words up to this long have their beginnings in customer_terms (the migration's
# customer_terms_of), and digit runs of these lengths (numbers are indexed by their runs).
MAX_TERM = 32
NUMBER_TERMS = (3, 4)


def _term_words(q: str) -> list[list[str]] | None:
    """The words of ``q`` as ``build_tsquery`` reads them, as groups of words one customer
    must all have: the words, or (typed with spaces) the words joined."""
    text = q.strip()
    words = [digits_of(text)] if _NUMBERISH.match(normalize(text)) else tokens(text)
    words = [w for w in words if w]
    if not words:
        return None
    return [words, ["".join(words)]] if len(words) > 1 else [words]


def _in_terms(field: int, word: str) -> bool:
    """Whether every customer having a lexeme that begins with ``word`` (in ``field``) has
    a customer_terms row for it."""
    if field == TERM_TAG:
        return True
    if len(word) > MAX_TERM:
        return False
    only_digits = word.isascii() and word.isdigit()
    return field != TERM_ANY or not only_digits or len(word) in NUMBER_TERMS


def term_groups(
    q: str | None, company: str | None, tags: Sequence[str] = ()
) -> list[list[tuple[int, str]]] | None:
    """The customer_terms rows a search for ``q`` (and the company and tag filters, tags
    normalised) asks for: any of the groups, a customer having every (field, term) of one.
    None when the table cannot answer it (a word too long, a digit run of another length
    than those indexed, or no words at all)."""
    groups = [[(TERM_ANY, w) for w in words] for words in (_term_words(q) or [])] if q else []
    filters = [(TERM_COMPANY, w) for w in tokens(company)] if company else []
    # Tags are stored cut to the column's 64 characters (and compared so by the array filter).
    filters += [(TERM_TAG, t[:64]) for t in tags]
    if filters:
        groups = [g + filters for g in groups] or [filters]
    if not groups or not all(_in_terms(f, w) for g in groups for f, w in g):
        return None
    return [list(dict.fromkeys(g)) for g in groups]


def name_lexemes(text: str) -> list[str]:
    """The words of a name, and each pair of adjacent words joined: "علیرضا" also finds
    "علی رضا" (a name written with a space or ZWNJ by one person and without by another)."""
    words = tokens(text)
    return words + [a + b for a, b in pairwise(words)]


class CustomerService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.region = settings.default_region
        self.area_code = settings.default_area_code
        self.repo = CustomerRepository(session)

    # -- numbers ---------------------------------------------------------------------------

    def parse_number(self, raw: str, field_name: str = "number") -> PhoneNumber:
        try:
            return parse_phone(raw, self.region, default_area_code=self.area_code)
        except InvalidPhoneNumber as exc:
            raise InvalidInput(str(exc), field=field_name) from exc

    def _phone_rows(self, phones: Sequence[PhoneIn], prefix: str) -> list[CustomerPhone]:
        rows: list[CustomerPhone] = []
        seen: set[tuple[str, str]] = set()
        for i, phone in enumerate(phones):
            parsed = self.parse_number(phone.number, f"{prefix}.{i}.number")
            key = (parsed.e164, parsed.extension or "")
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                CustomerPhone(
                    e164=parsed.e164,
                    extension=parsed.extension or "",
                    raw=phone.number.strip(),
                    label=phone.label,
                )
            )
        return rows

    async def _reindex(self, customer: Customer) -> None:
        numbers: list[str] = []
        for phone in customer.phones:
            parsed = parse_phone(phone.e164)
            numbers.extend(number_lexemes(phone.e164, parsed.national()))
        email = customer.email or ""
        tag_words = [w for tag in customer.tags for w in tokens(tag)]
        vector = SearchVector(
            name=name_lexemes(customer.name),
            company=name_lexemes(customer.company),
            numbers=sorted(set(numbers)),
            other=tokens(email.replace("@", " ").replace(".", " ")) + tag_words,
        )
        await self.repo.set_search_vector(customer.id, vector)

    # -- access ----------------------------------------------------------------------------

    async def _check_owner(self, actor: User, owner_id: int | None) -> None:
        if owner_id is None:
            return
        if actor.role == Role.agent and owner_id != actor.id:
            raise PermissionDenied("agents can only assign customers to themselves")
        if owner_id != actor.id and not await self.repo.user_exists(owner_id):
            raise InvalidInput(f"user {owner_id} does not exist", field="owner_id")

    async def get(self, customer_id: int) -> Customer:
        customer = await self.repo.get(customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        return customer

    async def _check_external_id(self, external_id: str | None, customer_id: int | None) -> None:
        if external_id is None:
            return
        other = await self.repo.get_by_external_id(external_id)
        if other is not None and other.id != customer_id:
            raise Conflict(
                f"external id {external_id!r} belongs to customer {other.id}", field="external_id"
            )

    # -- commands --------------------------------------------------------------------------

    async def create(self, data: CustomerCreate, actor: User | None) -> Customer:
        owner_id = data.owner_id
        if actor is not None:
            if owner_id is None and actor.role == Role.agent:
                owner_id = actor.id
            await self._check_owner(actor, owner_id)
        await self._check_external_id(data.external_id, None)
        phones = self._phone_rows(data.phones, "phones")
        customer = Customer(
            kind=data.kind.value,
            name=data.name,
            company=data.company,
            address=data.address.strip(),
            email=data.email,
            notes=data.notes,
            tags=data.tags,
            priority=data.priority.value if data.priority else None,
            owner_id=owner_id,
            external_id=data.external_id,
            sort_key=sort_key_of(data.name),
            phones=phones,
        )
        await self.repo.add(customer)
        await self._reindex(customer)
        await self._link_calls(customer, [p.e164 for p in phones])
        return customer

    async def _link_calls(self, customer: Customer, e164s: Sequence[str]) -> None:
        """The calls already stored from these numbers are the customer's too: a customer
        saved from a pop has that call (and earlier ones) in their history at once."""
        await CallRepository(self.session).link_stored_calls(customer.id, e164s)

    async def update(self, customer_id: int, data: CustomerUpdate, actor: User) -> Customer:
        customer = await self.get(customer_id)
        changes = data.model_dump(exclude_unset=True)
        if "owner_id" in changes and changes["owner_id"] != customer.owner_id:
            await self._check_owner(actor, changes["owner_id"])
            if actor.role == Role.agent and customer.owner_id not in (None, actor.id):
                raise PermissionDenied("agents cannot take over another agent's customer")
        if "external_id" in changes:
            await self._check_external_id(changes["external_id"], customer.id)
        for required in ("name", "company", "notes", "tags"):
            if required in changes and changes[required] is None:
                raise InvalidInput(f"{required} cannot be null", field=required)
        for name in ("name", "company", "email", "notes", "owner_id", "external_id", "tags"):
            if name in changes:
                setattr(customer, name, changes[name])
        if "address" in changes and changes["address"] is not None:
            customer.address = changes["address"].strip()
        if "kind" in changes and changes["kind"] is not None:
            customer.kind = changes["kind"].value
        if "priority" in changes:
            customer.priority = changes["priority"].value if changes["priority"] else None
        customer.sort_key = sort_key_of(customer.name)
        await self.session.flush()
        await self._reindex(customer)
        return await self.repo.reload(customer)

    async def delete(self, customer_id: int) -> None:
        await self.repo.delete(await self.get(customer_id))

    async def add_phone(self, customer_id: int, phone: PhoneIn) -> Customer:
        customer = await self.get(customer_id)
        [row] = self._phone_rows([phone], "phones")
        if any((p.e164, p.extension) == (row.e164, row.extension) for p in customer.phones):
            raise Conflict(f"customer {customer_id} already has {row.e164}", field="number")
        customer.phones.append(row)
        await self.session.flush()
        await self._reindex(customer)
        await self._link_calls(customer, [row.e164])
        return customer

    async def remove_phone(self, customer_id: int, phone_id: int) -> Customer:
        customer = await self.get(customer_id)
        phone = await self.repo.phone(customer_id, phone_id)
        if phone is None:
            raise NotFound(f"customer {customer_id} has no number {phone_id}")
        await self.repo.delete_phone(phone)
        customer = await self.repo.reload(customer)
        await self._reindex(customer)
        return customer

    # -- queries ---------------------------------------------------------------------------

    async def lookup(self, number: str) -> LookupOutcome:
        """Every customer holding ``number``, typed in any format. An unparseable number
        matches nobody (it is not an error: caller IDs can be anything)."""
        parsed = try_parse_phone(number, self.region, default_area_code=self.area_code)
        if parsed is None:
            return LookupOutcome(number=number, parsed=None, customers=[])
        return LookupOutcome(
            number=number, parsed=parsed, customers=await self.repo.by_number(parsed.e164)
        )

    async def search(
        self,
        *,
        q: str | None = None,
        company: str | None = None,
        tags: Sequence[str] = (),
        owner_id: int | None = None,
        priority: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[Sequence[Customer], str | None]:
        parts = []
        if q and (query := build_tsquery(q)):
            parts.append(f"({query})")
        if company:
            words = tokens(company)
            if words:
                parts.append("(" + " & ".join(f"'{w}':*B" for w in words) + ")")
        wanted_tags = [t for t in (normalize(t) for t in tags) if t]
        flt = SearchFilter(
            query=" & ".join(parts) if parts else None,
            tags=wanted_tags,
            owner_id=owner_id,
            priority=priority,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
            terms=term_groups(q, company, wanted_tags) if parts or wanted_tags else None,
        )
        rows = list(await self.repo.search(flt))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(last.sort_key, last.id)
        return rows, next_cursor

    async def reindex_batch(self, after_id: int, size: int = 1000) -> tuple[int, int]:
        """Recompute the search index and sort key of the next ``size`` customers after
        ``after_id`` (after a change to the normalisation rules). Returns how many were done
        (0: none left) and the last id done."""
        batch = await self.repo.batch_after(after_id, size)
        for customer in batch:
            customer.sort_key = sort_key_of(customer.name)
            await self._reindex(customer)
        await self.session.flush()
        return len(batch), batch[-1].id if batch else after_id

    # -- import ----------------------------------------------------------------------------

    async def import_rows(self, rows: Sequence[ImportRow | RowError], counts: ImportCounts) -> None:
        """Create or update one customer per row. A row whose data fails is reported with its
        line and skipped; it does not undo the others (each row has a savepoint)."""
        for row in rows:
            counts.rows += 1
            if isinstance(row, RowError):
                counts.errors.append((row.line, row.reason))
                continue
            try:
                async with self.session.begin_nested():
                    outcome = await self._import_one(row.data)
            except (InvalidInput, Conflict, PermissionDenied) as exc:
                counts.errors.append((row.line, exc.message))
                continue
            setattr(counts, outcome, getattr(counts, outcome) + 1)

    async def _import_one(self, data: CustomerCreate) -> str:
        phones = self._phone_rows(data.phones, "phones")
        existing = None
        if data.external_id:
            existing = await self.repo.get_by_external_id(data.external_id)
        if existing is None:
            existing = await self.repo.find_for_import(
                sort_key_of(data.name), data.company, [p.e164 for p in phones]
            )
        if existing is None:
            await self.create(data, actor=None)
            return "created"
        changed = False
        if normalize(existing.name) != normalize(data.name):
            # Matched by external id: the customer was renamed. (The same name in other
            # letter forms is the same name, and is left as it was stored.)
            existing.name = data.name
            existing.sort_key = sort_key_of(data.name)
            changed = True
        incoming = data.model_dump(exclude_defaults=True, exclude={"phones", "name"})
        for name, value in incoming.items():
            if name == "kind":
                value = value.value
            if name == "priority":
                value = value.value if value else None
            if name == "tags":
                value = list(dict.fromkeys([*existing.tags, *value]))
            if getattr(existing, name) != value:
                setattr(existing, name, value)
                changed = True
        have = {(p.e164, p.extension) for p in existing.phones}
        added = [p for p in phones if (p.e164, p.extension) not in have]
        for phone in added:
            existing.phones.append(phone)
            changed = True
        if not changed:
            return "unchanged"
        await self.session.flush()
        await self._reindex(existing)
        await self._link_calls(existing, [p.e164 for p in added])
        return "updated"
