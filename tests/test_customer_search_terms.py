"""customer_terms, the phonebook's typeahead table: its rows follow every change of a
customer (written by a trigger from the search vector), and a search answered from it gives
the pages the search_vector gives, in Persian alphabetical order."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.customers.importer import read_customers
from app.customers.schemas import CustomerUpdate, PhoneIn
from app.customers.service import (
    MAX_TERM,
    CustomerService,
    ImportCounts,
    name_lexemes,
    sort_key_of,
    term_groups,
)
from app.models import TERM_ANY, TERM_COMPANY, TERM_TAG, Role
from app.phones import parse_phone
from app.textnorm import tokens
from tests.fixtures.factories import make_customer, make_user
from tests.test_customers_api import PERSIAN_ORDER, headers_for

Terms = set[tuple[int, str, str]]


def beginnings(word: str, lengths: range) -> set[str]:
    return {word[:n] for n in lengths if n <= len(word)}


def expected_terms(
    name: str, company: str, numbers: list[str], email: str = "", tags: tuple[str, ...] = ()
) -> Terms:
    """The rows a customer should have, written from what it is (not from its vector): every
    beginning of every word of its name, company and email (and of adjacent words joined),
    every 3- and 4-digit run of its numbers (international and national digits), and the
    company's words again for the company filter, and each tag whole for the tag filter."""
    words = name_lexemes(name) + name_lexemes(company) + tokens(email.replace("@", " "))
    words += [w for tag in tags for w in tokens(tag)]
    found = {(TERM_ANY, b) for w in words for b in beginnings(w, range(1, MAX_TERM + 1))}
    for number in numbers:
        for digits in (number.lstrip("+"), re.sub(r"\D", "", parse_phone(number).national())):
            runs = (digits[i : i + n] for n in (3, 4) for i in range(len(digits) - n + 1))
            found |= {(TERM_ANY, run) for run in runs}
    found |= {
        (TERM_COMPANY, b)
        for w in name_lexemes(company)
        for b in beginnings(w, range(1, MAX_TERM + 1))
    }
    found |= {(TERM_TAG, tag) for tag in tags}
    key = sort_key_of(name)
    return {(f, t, key) for f, t in found}


async def terms_of(session: AsyncSession, customer_id: int) -> Terms:
    rows = await session.execute(
        text("SELECT field, term, sort_key FROM customer_terms WHERE customer_id = :id"),
        {"id": customer_id},
    )
    return {(r.field, r.term, r.sort_key) for r in rows}


async def test_the_terms_follow_a_customer_through_its_changes(
    session: AsyncSession, settings: Settings
) -> None:
    service = CustomerService(session, settings)
    admin = await make_user(session, Role.admin)
    customer = await make_customer(
        session, settings, "علیرضا قاسمي", ("09121234567",), company="پخش البرز"
    )
    assert await terms_of(session, customer.id) == expected_terms(
        "علیرضا قاسمي", "پخش البرز", ["+989121234567"]
    )
    assert (TERM_ANY, "قاسمی", sort_key_of("علیرضا قاسمی")) in await terms_of(session, customer.id)

    # A rename moves every row to the new name's place in the order.
    await service.update(customer.id, CustomerUpdate(name="پرویز کاظمی", company=""), admin)
    terms = await terms_of(session, customer.id)
    assert terms == expected_terms("پرویز کاظمی", "", ["+989121234567"])
    assert not any(t in ("علی", "قاس", "پخش") for _, t, _ in terms)

    # A number added and one taken away: its runs come and go.
    with_second = await service.add_phone(customer.id, PhoneIn(number="02188776655"))
    assert await terms_of(session, customer.id) == expected_terms(
        "پرویز کاظمی", "", ["+989121234567", "+982188776655"]
    )
    first = next(p for p in with_second.phones if p.e164 == "+989121234567")
    await service.remove_phone(customer.id, first.id)
    terms = await terms_of(session, customer.id)
    assert terms == expected_terms("پرویز کاظمی", "", ["+982188776655"])
    assert not any(t == "4567" for _, t, _ in terms)

    # An e-mail address is searched by its words; tags by their words and whole.
    await service.update(
        customer.id, CustomerUpdate(email="parviz@example.ir", tags=["vip", "پیگیری"]), admin
    )
    assert await terms_of(session, customer.id) == expected_terms(
        "پرویز کاظمی", "", ["+982188776655"], "parviz example ir", ("vip", "پیگیری")
    )
    await service.update(customer.id, CustomerUpdate(tags=["vip"]), admin)
    assert await terms_of(session, customer.id) == expected_terms(
        "پرویز کاظمی", "", ["+982188776655"], "parviz example ir", ("vip",)
    )

    await service.delete(customer.id)
    assert await terms_of(session, customer.id) == set()


async def test_imported_customers_have_their_terms(
    session: AsyncSession, settings: Settings
) -> None:
    header = "نام,تلفن,شرکت,شناسه\n"
    data = header + "مریم کریمی,09351112233,,X-1\nسارا امینی,02188776655,بیمه آسیا,X-2\n"
    service = CustomerService(session, settings)
    await service.import_rows(list(read_customers(io.BytesIO(data.encode())).rows), ImportCounts())
    # A re-run that renames X-1 and gives X-2 a second number.
    again = header + "مریم کاظمی,09351112233,,X-1\nسارا امینی,09121234567,بیمه آسیا,X-2\n"
    counts = ImportCounts()
    await service.import_rows(list(read_customers(io.BytesIO(again.encode())).rows), counts)
    assert (counts.created, counts.updated) == (0, 2)
    maryam = await session.scalar(text("SELECT id FROM customers WHERE external_id = 'X-1'"))
    sara = await session.scalar(text("SELECT id FROM customers WHERE external_id = 'X-2'"))
    assert await terms_of(session, maryam) == expected_terms("مریم کاظمی", "", ["+989351112233"])
    assert await terms_of(session, sara) == expected_terms(
        "سارا امینی", "بیمه آسیا", ["+982188776655", "+989121234567"]
    )


def test_what_the_table_can_answer() -> None:
    assert term_groups("علي رضا", None) == [
        [(TERM_ANY, "علی"), (TERM_ANY, "رضا")],
        [(TERM_ANY, "علیرضا")],
    ]
    assert term_groups("۰۹۱۲", None) == [[(TERM_ANY, "0912")]]
    assert term_groups("مح", "پخش") == [[(TERM_ANY, "مح"), (TERM_COMPANY, "پخش")]]
    assert term_groups(None, "البرز") == [[(TERM_COMPANY, "البرز")]]
    assert term_groups("عل", None, ["vip"]) == [[(TERM_ANY, "عل"), (TERM_TAG, "vip")]]
    assert term_groups(None, None, ["vip"]) == [[(TERM_TAG, "vip")]]
    # Digit runs of other lengths, and words longer than the table's terms: the vector.
    for q in ("12", "12345", "0912 123 4567", "ب" * (MAX_TERM + 1), "علی 12"):
        assert term_groups(q, None) is None, q
    assert term_groups("  ", None) is None


async def test_pages_from_the_terms_are_the_pages_from_the_search_vector(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every kind of typed query, paged two at a time to the end, gives the same customers
    in the same order from customer_terms as from the search_vector alone."""
    from app.customers import repository

    _, agent = await headers_for(session, settings, Role.agent)
    people = [
        ("علیرضا قاسمی", "پخش البرز"),
        ("علی رضا قاسمی", ""),
        ("علی‌رضا کریمی", "بیمه آسیا"),
        ("علي كريمي", "پخش هجرت"),
        ("پیمان احمدی", "البرز"),
        ("ژیلا محمدی", ""),
        ("یاسر محمدی", "پخش البرز"),
        ("آرش کریمی", ""),
        ("پخش البرز", "پخش البرز"),
    ]
    for i, (name, company) in enumerate(people):
        tags = [["vip"], ["vip", "شمال"], []][i % 3]
        await make_customer(
            session, settings, name, (f"0912{i:03d}4567",), company=company, tags=tags
        )

    async def walk(params: dict[str, str]) -> list[int]:
        seen: list[int] = []
        cursor = None
        while True:
            page = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/api/customers", params=page, headers=agent)).json()
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    queries = [
        {"q": q}
        for q in ("ع", "عل", "علی", "كريمي", "علی رضا", "علي رض", "محمدی یا", "پخش", "0912")
    ]
    queries += [{"q": "456"}, {"q": "۴۵۶۷"}, {"company": "البرز"}, {"q": "ع", "company": "پخش"}]
    queries += [{"tag": "vip"}, {"tag": "شمال", "q": "قاسمی"}, {"tag": "vip", "company": "پخش"}]
    from_terms = {str(p): await walk(p) for p in queries}
    monkeypatch.setattr(repository, "USE_TERMS", False)
    assert {str(p): await walk(p) for p in queries} == from_terms
    assert len(from_terms[str({"q": "علی رضا"})]) == 3
    assert len(from_terms[str({"company": "البرز"})]) == 4
    assert len(from_terms[str({"tag": "vip"})]) == 6


async def test_a_search_from_the_terms_is_in_persian_alphabetical_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    import random

    _, agent = await headers_for(session, settings, Role.agent)
    shuffled = list(enumerate(PERSIAN_ORDER))
    random.Random(11).shuffle(shuffled)
    for i, name in shuffled:
        stored = name.replace("ی", "ي").replace("ک", "ك") if i % 2 else name
        await make_customer(session, settings, stored, (f"0935100{i:04d}",))
    for q in ("0935", "935", "۳۵۱"):
        assert term_groups(q, None) is not None
        seen: list[str] = []
        cursor = None
        while True:
            params = {"q": q, "limit": "7", **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/api/customers", params=params, headers=agent)).json()
            seen += [c["name"].replace("ي", "ی").replace("ك", "ک") for c in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == PERSIAN_ORDER, q


async def test_the_migration_backfills_the_terms_the_trigger_writes(
    session: AsyncSession, settings: Settings
) -> None:
    """The migration's backfill (the same function of the vector, in one statement) gives
    the rows the trigger wrote."""
    customer = await make_customer(session, settings, "مهدی نیک‌زاده", ("09121234567",))
    written = await terms_of(session, customer.id)
    await session.execute(
        text("DELETE FROM customer_terms WHERE customer_id = :id"), {"id": customer.id}
    )
    await session.execute(
        text(
            "INSERT INTO customer_terms (customer_id, field, term, sort_key)"
            " SELECT c.id, t.field, t.term, c.sort_key"
            " FROM customers c, customer_terms_of(c.search_vector, c.tags) t WHERE c.id = :id"
        ),
        {"id": customer.id},
    )
    assert await terms_of(session, customer.id) == written != set()
