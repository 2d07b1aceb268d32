"""Tracker output stored: calls and legs idempotently, linked to every customer holding the
number and to the agents through their devices; read back through the API."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, CallCustomer, CallLeg, Role
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


async def store(app: FastAPI, name: str) -> None:
    _, events = replay(name)
    await InlineRecorder(app.state.sessionmaker)(events)


async def count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_calls_are_stored_once_even_when_replayed(
    app: FastAPI, session: AsyncSession
) -> None:
    await store(app, "08_attended_transfer")
    calls, legs = await count(session, Call), await count(session, CallLeg)
    assert calls == 2  # the customer's call and the consultation call
    await store(app, "08_attended_transfer")
    assert (await count(session, Call), await count(session, CallLeg)) == (calls, legs)
    [inbound] = (await session.execute(select(Call).where(Call.direction == "inbound"))).scalars()
    assert inbound.outcome == "answered" and inbound.answered_by == "PJSIP/1001"
    assert inbound.transfers[0]["kind"] == "attended"
    assert inbound.customer_e164 == "+989121112233"
    # The transfer target's leg belongs to the customer's call in the end.
    leg = (
        await session.execute(select(CallLeg).where(CallLeg.device == "PJSIP/1003"))
    ).scalar_one()
    assert leg.call_id == inbound.id


async def test_calls_link_every_customer_and_the_agents(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    ali = await make_customer(session, settings, "علی رضایی", ("0912 123 4567",))
    office = await make_customer(session, settings, "دفتر مشترک", ("+989121234567",))
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    other = await make_user(session, Role.agent, devices=["PJSIP/1003"])
    await store(app, "A1_persian_name_direct_answered")

    call = (await session.execute(select(Call))).scalar_one()
    assert call.caller_name == "علی رضایی"
    assert call.answered_by_user_id == sara.id
    linked = (
        await session.execute(
            select(CallCustomer.customer_id).where(CallCustomer.call_id == call.id)
        )
    ).scalars()
    assert sorted(linked) == sorted([ali.id, office.id])

    sara_headers = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    other_headers = {"Authorization": f"Bearer {await make_token(session, settings, other)}"}
    r = await client.get(f"/api/customers/{ali.id}/calls", headers=other_headers)
    assert r.status_code == 200
    [row] = r.json()["items"]
    assert row["outcome"] == "answered" and row["did"] == "100"
    assert row["recordings"][0].endswith("-1795347184.0.wav")

    r = await client.get(f"/api/calls/{call.id}", headers=sara_headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert [leg["device"] for leg in detail["legs"]] == ["PJSIP/trunk", "PJSIP/1001"]
    assert sorted(detail["customer_ids"]) == sorted([ali.id, office.id])
    # Another agent was not on this call.
    assert (await client.get(f"/api/calls/{call.id}", headers=other_headers)).status_code == 404
    boss = await make_user(session, Role.supervisor)
    boss_headers = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    assert (await client.get(f"/api/calls/{call.id}", headers=boss_headers)).status_code == 200


async def test_timeline_pages(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await make_customer(session, settings, "مشتری پرتماس", ("09121234567",))
    for name in (
        "01_direct_answered",
        "04_queue_answered",
        "06_click_to_call",
        "A1_persian_name_direct_answered",
    ):
        await store(app, name)
    headers = {
        "Authorization": f"Bearer {await make_token(session, settings, await make_user(session))}"
    }
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/api/customers/{customer.id}/calls", params=params, headers=headers)
        body = r.json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4
    r = await client.get(
        f"/api/customers/{customer.id}/calls", params={"cursor": "junk"}, headers=headers
    )
    assert r.status_code == 422
