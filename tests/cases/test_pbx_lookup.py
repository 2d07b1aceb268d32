"""What the dialplan asks before routing a call: caller name, VIP, contract, assigned agent;
in the forms Asterisk reads (key=value lines, CURL hashcompat, JSON)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.contracts.status import contract_status
from app.logs import RedactQuerySecrets
from app.models import Contract, Role
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.pbx import calling_pbx

TOKEN = "pbx-token-for-lookup-tests"


@pytest.fixture
async def pbx_app(app: FastAPI, settings: Settings) -> AsyncIterator[Settings]:
    with calling_pbx(app, settings, "main", TOKEN) as conf:
        yield conf


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_contract_ends_on_the_call_centers_day_not_utcs(
    app: FastAPI, session: AsyncSession, pbx_app: Settings, client: httpx.AsyncClient
) -> None:
    # A zone whose date is not UTC's right now (one of these two always is not).
    utc = datetime.now(UTC).date()
    zone = next(z for z in ("Etc/GMT-14", "Etc/GMT+12") if datetime.now(ZoneInfo(z)).date() != utc)
    local = datetime.now(ZoneInfo(zone)).date()
    app.state.settings = pbx_app.model_copy(update={"time_zone": zone})
    ali = await make_customer(session, pbx_app, "علی رضایی", ("09121234567",))
    # Ahead of UTC: it ended yesterday there (UTC's today). Behind: it ends today there.
    ends, status = (local - timedelta(days=1), "expired") if local > utc else (local, "expiring")
    session.add(Contract(customer_id=ali.id, level="gold", starts_on=ends - timedelta(days=300),
                         ends_on=ends))  # fmt: skip
    await session.flush()
    r = await client.get("/pbx/lookup?number=09121234567", headers=AUTH)
    assert dict(line.split("=", 1) for line in r.text.splitlines())["contract"] == status
    admin = await make_user(session, Role.admin)
    h = {"Authorization": f"Bearer {await make_token(session, pbx_app, admin)}"}
    r = await client.get(f"/api/customers/{ali.id}/contract-status", headers=h)
    assert r.json()["status"] == status and r.json()["days_left"] == (ends - local).days


async def test_a_known_caller(
    session: AsyncSession, pbx_app: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    ali = await make_customer(session, pbx_app, "علی رضایی", ("09121234567",), company="آلفا")
    ali.owner_id = sara.id
    today = pbx_app.today()
    session.add(
        Contract(
            customer_id=ali.id,
            level="gold",
            starts_on=today - timedelta(days=300),
            ends_on=today + timedelta(days=10),
        )
    )
    await session.flush()
    r = await client.get("/pbx/lookup?number=+989121234567&did=100", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = dict(line.split("=", 1) for line in r.text.splitlines())
    assert got["found"] == "1" and got["customer_id"] == str(ali.id)
    assert got["name"] == "علی رضایی" and got["company"] == "آلفا"
    assert got["vip"] == "0" and got["agent_extension"] == "1001"
    assert (got["contract"], got["contract_level"]) == ("expiring", "gold")
    # The same, for CURLOPT(hashcompat) and for JSON.
    r = await client.get("/pbx/lookup?number=9121234567&format=hash", headers=AUTH)
    assert "\n" not in r.text and dict(parse_qsl(r.text))["name"] == "علی رضایی"
    r = await client.get("/pbx/lookup?number=00989121234567&format=json", headers=AUTH)
    assert r.json()["e164"] == "+989121234567"


async def test_shared_numbers_put_the_vip_first_and_unknowns_are_not_errors(
    session: AsyncSession, pbx_app: Settings, client: httpx.AsyncClient
) -> None:
    await make_customer(session, pbx_app, "دفتر", ("02188776655",))
    vip = await make_customer(session, pbx_app, "مدیر", ("02188776655",), priority="VIP")
    r = await client.get("/pbx/lookup?number=02188776655&format=json", headers=AUTH)
    body = r.json()
    assert body["customer_id"] == str(vip.id) and body["vip"] == "1" and body["holders"] == "2"
    assert body["contract"] == "none"
    for number in ("09350000000", "anonymous", "", "+"):
        r = await client.get(f"/pbx/lookup?number={number}&format=json", headers=AUTH)
        assert r.status_code == 200 and r.json()["found"] == "0"
    assert (await client.get("/pbx/lookup?number=1")).status_code == 401
    assert (
        await client.get("/pbx/lookup?number=1", headers={"Authorization": "Bearer x"})
    ).status_code == 401


def test_contract_statuses() -> None:
    today = date(2026, 11, 23)

    class C:
        def __init__(self, level: str, start: date, end: date) -> None:
            self.level, self.starts_on, self.ends_on = level, start, end

    old = C("silver", date(2025, 1, 1), date(2025, 12, 31))
    current = C("gold", date(2026, 1, 1), date(2027, 12, 31))
    ending = C("gold", date(2026, 1, 1), date(2026, 12, 1))
    future = C("gold", date(2027, 1, 1), date(2027, 12, 31))
    assert contract_status([], today, 30).status == "none"
    assert contract_status([old], today, 30).status == "expired"
    assert contract_status([old, current], today, 30).status == "active"
    s = contract_status([ending], today, 30)
    assert (s.status, s.days_left) == ("expiring", 8)
    assert contract_status([future], today, 30).status == "none"
    assert contract_status([ending, current], today, 30).status == "active"
    # The last day is covered.
    assert contract_status([C("x", today, today)], today, 0).status == "expiring"


async def test_contracts_api_with_jalali_dates_and_the_expiring_list(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    boss = await make_user(session, Role.supervisor)
    agent = await make_user(session, Role.agent)
    ali = await make_customer(session, settings, "علی", ("09121230000",))
    boss_h = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    agent_h = {"Authorization": f"Bearer {await make_token(session, settings, agent)}"}
    body = {"level": "gold", "starts_on": "۱۴۰۵/۰۱/۰۱", "ends_on": "2099-03-20"}
    r = await client.post(f"/api/customers/{ali.id}/contracts", json=body, headers=boss_h)
    assert r.status_code == 201, r.text
    assert r.json()["starts_on"] == "2026-03-21"  # 1 Farvardin 1405
    assert (
        await client.post(f"/api/customers/{ali.id}/contracts", json=body, headers=agent_h)
    ).status_code == 403
    bad = {"level": "gold", "starts_on": "2026-05-01", "ends_on": "2026-04-01"}
    assert (
        await client.post(f"/api/customers/{ali.id}/contracts", json=bad, headers=boss_h)
    ).status_code == 422
    soon = settings.today() + timedelta(days=40)
    r = await client.post(
        f"/api/customers/{ali.id}/contracts",
        json={"level": "silver", "starts_on": "2025-01-01", "ends_on": soon.isoformat()},
        headers=boss_h,
    )
    expiring = (await client.get("/api/contracts/expiring?months=6", headers=agent_h)).json()
    assert [(c["level"], c["customer_name"], c["days_left"]) for c in expiring] == [
        ("silver", "علی", 40)
    ]
    status = (await client.get(f"/api/customers/{ali.id}/contract-status", headers=agent_h)).json()
    assert status["status"] == "active" and status["level"] == "gold"


def test_tokens_in_query_strings_never_reach_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/pbx/lookup?number=1&token={TOKEN}", "1.1", 200),
        None,
    )
    RedactQuerySecrets().filter(record)
    assert TOKEN not in record.getMessage() and "token=***" in record.getMessage()
