from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from tests.fixtures.factories import make_customer, make_token, make_user


async def headers_for(
    session: AsyncSession, settings: Settings, role: Role
) -> tuple[int, dict[str, str]]:
    user = await make_user(session, role)
    return user.id, {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


async def test_create_read_update_delete(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    agent_id, agent = await headers_for(session, settings, Role.agent)
    _, supervisor = await headers_for(session, settings, Role.supervisor)
    r = await client.post(
        "/api/customers",
        json={
            "kind": "organization",
            "name": "  شرکت   آلفا ",
            "company": "آلفا",
            "address": "تهران، خیابان ولیعصر",
            "email": "info@alpha.ir",
            "tags": ["VIP", "عمده‌فروش", "vip"],
            "priority": "VIP",
            "external_id": "crm-1",
            "phones": [
                {"number": "021 8877 6655 داخلی ۱۲", "label": "office"},
                {"number": "۰۹۱۲-۱۲۳-۴۵۶۷", "label": "mobile"},
                {"number": "+98 912 123 4567", "label": "mobile"},
            ],
        },
        headers=agent,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    cid = body["id"]
    assert body["name"] == "شرکت آلفا"
    assert body["owner_id"] == agent_id  # an agent's new customer is theirs
    assert body["tags"] == ["vip", "عمدهفروش"]
    phones = {p["e164"]: p for p in body["phones"]}
    assert set(phones) == {"+982188776655", "+989121234567"}  # the duplicate is folded
    assert phones["+982188776655"]["extension"] == "12"
    assert phones["+982188776655"]["number"] == "021 8877 6655 داخلی ۱۲"
    assert phones["+989121234567"]["extension"] is None

    r = await client.patch(
        f"/api/customers/{cid}", json={"notes": "پیگیری شود", "priority": None}, headers=agent
    )
    assert r.status_code == 200, r.text
    assert r.json()["notes"] == "پیگیری شود"
    assert r.json()["priority"] is None
    assert r.json()["email"] == "info@alpha.ir"  # untouched

    assert (await client.delete(f"/api/customers/{cid}", headers=agent)).status_code == 403
    assert (await client.delete(f"/api/customers/{cid}", headers=supervisor)).status_code == 204
    r = await client.get(f"/api/customers/{cid}", headers=agent)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_invalid_numbers_are_refused_whole(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    r = await client.post(
        "/api/customers",
        json={"name": "بد", "phones": [{"number": "09121234567"}, {"number": "0912 12"}]},
        headers=agent,
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["fields"][0]["field"] == "phones.1.number"
    assert "0912 12" in err["message"]
    # Nothing was stored half.
    r = await client.get("/api/customers/lookup", params={"number": "09121234567"}, headers=agent)
    assert r.json()["customers"] == []


async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    r = await client.post(
        "/api/customers",
        json={"name": "   ", "email": "not-an-email", "priority": "Z"},
        headers=agent,
    )
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert fields == {"body.name", "body.email", "body.priority"}
    r = await client.post(
        "/api/customers",
        content=b"{not json",
        headers={**agent, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid"
    r = await client.get("/api/customers/abc", headers=agent)
    assert r.status_code == 422


async def test_numbers_add_and_remove(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    customer = await make_customer(session, settings, "مریم", ("09351112233",))
    r = await client.post(
        f"/api/customers/{customer.id}/phones",
        json={"number": "0098 21 8877 6655", "label": "Office"},
        headers=agent,
    )
    assert r.status_code == 201, r.text
    added = [p for p in r.json()["phones"] if p["e164"] == "+982188776655"]
    assert added[0]["label"] == "office"
    r = await client.post(
        f"/api/customers/{customer.id}/phones", json={"number": "۰۲۱۸۸۷۷۶۶۵۵"}, headers=agent
    )
    assert r.status_code == 409
    r = await client.post(
        f"/api/customers/{customer.id}/phones", json={"number": "hello"}, headers=agent
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "phones.0.number"

    r = await client.get("/api/customers/lookup", params={"number": "88776655"}, headers=agent)
    assert r.json()["valid"] is False  # no city code configured: a local number is ambiguous
    r = await client.get("/api/customers/lookup", params={"number": "021-88776655"}, headers=agent)
    assert [c["id"] for c in r.json()["customers"]] == [customer.id]

    r = await client.delete(f"/api/customers/{customer.id}/phones/{added[0]['id']}", headers=agent)
    assert r.status_code == 200
    assert [p["e164"] for p in r.json()["phones"]] == ["+989351112233"]
    r = await client.get("/api/customers/lookup", params={"number": "021-88776655"}, headers=agent)
    assert r.json()["customers"] == []
    # The search index follows the numbers.
    r = await client.get("/api/customers", params={"q": "8877"}, headers=agent)
    assert r.json()["items"] == []
    r = await client.delete(f"/api/customers/{customer.id}/phones/999999", headers=agent)
    assert r.status_code == 404


async def test_lookup_returns_every_holder_of_a_shared_line(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    a = await make_customer(session, settings, "رضا", ("021 8877 6655", "09121112233"))
    b = await make_customer(session, settings, "سارا", ("+982188776655",))
    await make_customer(session, settings, "دیگری", ("02188776656",))
    for typed in ("02188776655", "۰۲۱ ۸۸۷۷ ۶۶۵۵", "+98 21 8877 6655", "00982188776655"):
        r = await client.get("/api/customers/lookup", params={"number": typed}, headers=agent)
        assert r.status_code == 200
        body = r.json()
        assert body["valid"] is True
        assert body["e164"] == "+982188776655"
        assert [c["id"] for c in body["customers"]] == sorted([a.id, b.id])
    r = await client.get("/api/customers/lookup", params={"number": "anonymous"}, headers=agent)
    assert r.status_code == 200
    assert r.json() == {"number": "anonymous", "valid": False, "e164": None, "customers": []}


async def test_owner_rules(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    agent_id, agent = await headers_for(session, settings, Role.agent)
    other_id, other = await headers_for(session, settings, Role.agent)
    _, supervisor = await headers_for(session, settings, Role.supervisor)
    r = await client.post("/api/customers", json={"name": "x", "owner_id": other_id}, headers=agent)
    assert r.status_code == 403
    r = await client.post(
        "/api/customers", json={"name": "x", "owner_id": other_id}, headers=supervisor
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    # The other agent's customer cannot be taken over by this agent...
    r = await client.patch(f"/api/customers/{cid}", json={"owner_id": agent_id}, headers=agent)
    assert r.status_code == 403
    # ...but can be edited by it.
    r = await client.patch(f"/api/customers/{cid}", json={"notes": "n"}, headers=agent)
    assert r.status_code == 200
    r = await client.patch(f"/api/customers/{cid}", json={"owner_id": 987654}, headers=supervisor)
    assert r.status_code == 422
    mine = await client.get("/api/customers", params={"mine": "true"}, headers=other)
    assert [c["id"] for c in mine.json()["items"]] == [cid]


async def test_external_id_is_unique(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    r = await client.post("/api/customers", json={"name": "a", "external_id": "E1"}, headers=agent)
    assert r.status_code == 201
    r = await client.post("/api/customers", json={"name": "b", "external_id": "E1"}, headers=agent)
    assert r.status_code == 409
    assert r.json()["error"]["fields"][0]["field"] == "external_id"


async def test_odd_input_is_never_a_500(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    huge = 10**30
    r = await client.get(f"/api/customers/{huge}", headers=agent)
    assert r.status_code == 422
    r = await client.post("/api/customers", json={"name": "x", "owner_id": huge}, headers=agent)
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "body.owner_id"
    r = await client.post("/api/customers", json={"name": "nul\x00byte"}, headers=agent)
    assert r.status_code == 422
    r = await client.post(
        "/api/customers", json={"name": "x", "notes": "a\x00b", "address": "\x00"}, headers=agent
    )
    assert r.status_code == 422
    r = await client.get("/api/customers", params={"q": "'\\:*&|!()<>"}, headers=agent)
    assert r.status_code == 200
    r = await client.get("/api/customers", params={"q": "علی:* | !x"}, headers=agent)
    assert r.status_code == 200
    # A NUL in any query parameter is refused before the endpoint (app/schemas.py).
    r = await client.get("/api/customers/lookup", params={"number": "\x00"}, headers=agent)
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "query.number"


async def test_names_written_with_or_without_a_space_find_each_other(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    joined = await make_customer(session, settings, "علیرضا قاسمی", ("09121110001",))
    spaced = await make_customer(session, settings, "علی رضا قاسمی", ("09121110002",))
    zwnj = await make_customer(session, settings, "علی‌رضا قاسمی", ("09121110003",))
    other = await make_customer(session, settings, "علی قاسمی", ("09121110004",))
    for q in ("علیرضا", "علی رضا", "علي رضا"):
        r = await client.get("/api/customers", params={"q": q}, headers=agent)
        found = {c["id"] for c in r.json()["items"]}
        assert {joined.id, spaced.id, zwnj.id} <= found, q
        assert other.id not in found, q


async def test_search_gives_the_same_pages_whichever_step_answers(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A short walk in name order answers common words; the GIN index answers the rest.
    Both must give exactly the same pages."""
    from app.customers import repository

    _, agent = await headers_for(session, settings, Role.agent)
    names = [
        f"{first} {last}"
        for first in ("آرش", "بهرام", "پیمان", "ژیلا", "یاسر")
        for last in ("احمدی", "کریمی", "محمدی")
    ]
    for i, name in enumerate(names):
        await make_customer(session, settings, name, (f"0912000{i:04d}",))

    async def walk(q: str) -> list[int]:
        seen: list[int] = []
        cursor = None
        while True:
            params = {"q": q, "limit": "2", **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/api/customers", params=params, headers=agent)).json()
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    queries = ("پ", "کریمی", "یاسر", "ا", "0912000")
    wide = {q: await walk(q) for q in queries}
    monkeypatch.setattr(repository, "WALK", 3)
    assert {q: await walk(q) for q in queries} == wide
    assert len(wide["کریمی"]) == 5 and len(wide["0912000"]) == 15


async def test_a_name_that_grows_when_normalised_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, agent = await headers_for(session, settings, Role.agent)
    r = await client.post("/api/customers", json={"name": "ﷺ" * 20}, headers=agent)
    assert r.status_code == 201, r.text


# The phonebook's order as a Persian reader expects it, written out by hand: the 32 letters
# of the alphabet in dictionary order (آ is ا with a madda, one letter for the order as for
# search: "احمد" before "آرش" as ح comes before ر), a name before the longer ones it
# begins, digits before letters, Persian before Latin. Arabic ي/ك are the same letters as
# Persian ی/ک, so "كاوه" is "کاوه".
PERSIAN_ORDER = [
    "۱۲۳ پارس",
    "احمد",
    "آرش",
    "بابک",
    "پرویز",
    "تینا",
    "ثمین",
    "جواد",
    "چنگیز",
    "حسن",
    "خسرو",
    "داریوش",
    "ذبیح",
    "رضا",
    "زهرا",
    "ژاله",
    "سارا",
    "شیرین",
    "صادق",
    "ضیا",
    "طاهره",
    "ظریف",
    "عباس",
    "علی",
    "علی اکبر",
    "علیرضا",
    "غلام",
    "فرهاد",
    "قاسم",
    "کاوه",
    "گلناز",
    "لیلا",
    "مریم",
    "نادر",
    "وحید",
    "هادی",
    "یاسر",
    "Adam",
    "zoe",
]


async def test_the_phonebook_is_in_persian_alphabetical_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    import random

    _, agent = await headers_for(session, settings, Role.agent)
    shuffled = list(enumerate(PERSIAN_ORDER))
    random.Random(7).shuffle(shuffled)
    for i, name in shuffled:
        stored = name.replace("ی", "ي").replace("ک", "ك") if i % 2 else name
        await make_customer(session, settings, stored, (f"0912100{i:04d}",))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/customers", params=params, headers=agent)).json()
        seen += [c["name"].replace("ي", "ی").replace("ك", "ک") for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == PERSIAN_ORDER
    # The same order when a word filter answers through either search step.
    r = await client.get("/api/customers", params={"q": "0912100", "limit": "100"}, headers=agent)
    names = [c["name"].replace("ي", "ی").replace("ك", "ک") for c in r.json()["items"]]
    assert names == PERSIAN_ORDER


def _sort_key_migration() -> Any:
    import importlib.util
    from pathlib import Path

    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    path = next(versions.glob("*_customers_sort_key_in_persian_order.py"))
    spec = importlib.util.spec_from_file_location("sort_key_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


async def test_the_migration_translates_stored_keys_as_the_service_computes_them(
    session: AsyncSession,
) -> None:
    """Stored keys are moved to the new order by SQL translate() in the migration: it must
    give exactly what ``sort_key_of`` gives a new customer."""
    from sqlalchemy import text

    from app.customers.service import sort_key_of
    from app.textnorm import normalize

    migration = _sort_key_migration()
    for name in [*PERSIAN_ORDER, "Ünal Öztürk", "ﷺ محمد", "گل‌نار", "ژ۲"]:
        old = normalize(name)[:200]
        new = await session.scalar(
            text("SELECT translate(:old, :src, :dst)"),
            {"old": old, "src": migration._FROM, "dst": migration._TO},
        )
        assert new == sort_key_of(name), name


async def test_a_lookup_outside_a_transaction_sends_one_statement(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that only looks a number up (the screen-pop's and the dialplan's question)
    costs one message to the server: no BEGIN/COMMIT, no pre-ping, the holders and all their
    numbers in one statement."""
    import asyncpg

    from app.customers.service import CustomerService
    from app.db import unit_of_work

    maker = app.state.database.sessionmaker  # on the engine, not a test's rolled-back one
    async with unit_of_work(maker) as s:
        office = await make_customer(s, settings, "دفتر مشترک", ("02188776601", "09129990001"))
        other = await make_customer(s, settings, "همکار", ("021-8877-6601",))
    sent: list[str] = []
    simple, extended = asyncpg.Connection.execute, asyncpg.Connection._do_execute

    async def spy_simple(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            sent.append(query)
        return await simple(self, query, *args, **kw)

    async def spy_extended(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        sent.append(query)
        return await extended(self, query, *args, **kw)

    try:
        async with unit_of_work(maker) as s:  # warm: a new connection introspects types once
            await CustomerService(s, settings).lookup("02188776601")
        monkeypatch.setattr(asyncpg.Connection, "execute", spy_simple)
        monkeypatch.setattr(asyncpg.Connection, "_do_execute", spy_extended)
        async with unit_of_work(maker) as s:
            outcome = await CustomerService(s, settings).lookup("+98 21 8877 6601")
        monkeypatch.undo()
        assert len(sent) == 1, sent
        assert [c.id for c in outcome.customers] == [office.id, other.id]
        assert [p.e164 for p in outcome.customers[0].phones] == ["+982188776601", "+989129990001"]
        assert outcome.customers[1].phones[0].raw == "021-8877-6601"
    finally:
        monkeypatch.undo()
        async with unit_of_work(maker) as s:
            await s.execute(
                text("DELETE FROM customers WHERE id IN (:a, :b)"), {"a": office.id, "b": other.id}
            )


async def test_saving_a_customer_links_the_calls_already_stored_from_their_number(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from app.models import Call

    _, agent = await headers_for(session, settings, Role.agent)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def stored(n: int, e164: str | None) -> Call:
        return Call(
            pbx="main",
            linkedid=f"link.{n}",
            direction="inbound",
            outcome="answered",
            customer_number=e164 or "",
            customer_e164=e164,
            started_at=at + timedelta(minutes=n),
        )

    # Two calls from the number (one still up: the pop the customer is saved from), one
    # from another number.
    calls = [stored(1, "+989187654321"), stored(2, "+989187654321"), stored(3, "+989121111111")]
    calls[1].outcome = "live"
    session.add_all(calls)
    await session.flush()
    r = await client.post(
        "/api/customers",
        json={"name": "نگار موسوی", "phones": [{"number": "۰۹۱۸ ۷۶۵ ۴۳۲۱"}]},
        headers=agent,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await client.get(f"/api/customers/{cid}/calls", headers=agent)
    assert [c["linkedid"] for c in r.json()["items"]] == ["link.2", "link.1"]
    assert r.json()["items"][0]["number_display"] == "0918 765 4321"

    # A number added later brings its calls along too.
    r = await client.post(
        f"/api/customers/{cid}/phones", json={"number": "09121111111"}, headers=agent
    )
    assert r.status_code in (200, 201), r.text
    r = await client.get(f"/api/customers/{cid}/calls", headers=agent)
    assert [c["linkedid"] for c in r.json()["items"]] == ["link.3", "link.2", "link.1"]
