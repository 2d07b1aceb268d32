"""Tracking codes: the check digit catches every single wrong digit and every swap of
neighbours; codes are issued for answered calls and by agents; a case's thread; the IVR."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.models import Call, PopEvent, Role, TrackingCode, TrackingCodeCall
from app.tracking import codes
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay

PBX_TOKEN = "pbx-token-for-tracking-tests"


def test_every_single_digit_error_and_neighbour_swap_is_caught() -> None:
    for _ in range(300):
        code = codes.new_code()
        assert len(code) == 8 and code.isdigit() and code[0] != "0"
        assert codes.parse(code) == code
        for i in range(8):
            for d in "0123456789":
                if d != code[i]:
                    wrong = code[:i] + d + code[i + 1 :]
                    with pytest.raises(codes.BadCode) as caught:
                        codes.parse(wrong)
                    assert caught.value.mistyped
        for i in range(7):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                with pytest.raises(codes.BadCode):
                    codes.parse(swapped)


def test_codes_are_read_as_people_type_them() -> None:
    code = codes.new_code()
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert codes.parse(f"{persian[:4]} - {persian[4:]}") == code
    with pytest.raises(codes.BadCode) as caught:
        codes.parse(code[:7])
    assert not caught.value.mistyped


def conf_with_pbx(settings: Settings) -> Settings:
    pbx = PbxSettings(
        id="pbx1",
        host="127.0.0.1",
        port=1,
        username="u",
        secret=SecretStr("s"),
        token=SecretStr(PBX_TOKEN),
    )
    return settings.model_copy(update={"pbxes": [pbx]})


async def test_an_answered_call_gets_a_code_shown_in_its_pop(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    customer = await make_customer(session, settings, "علی رضایی", ("09121234567",))
    _, events = replay("01_direct_answered")
    await InlineRecorder(app.state.sessionmaker, settings=settings)(events)
    (code,) = (await session.execute(select(TrackingCode))).scalars().all()
    assert code.automatic and code.status == "open"
    assert code.customer_id == customer.id and code.owner_user_id == sara.id
    call = (await session.execute(select(Call))).scalar_one()
    links = (await session.execute(select(TrackingCodeCall))).scalars().all()
    assert [(link.tracking_code_id, link.call_id) for link in links] == [(code.id, call.id)]
    pops = (await session.execute(select(PopEvent).order_by(PopEvent.id))).scalars().all()
    by_state = {p.payload["state"]: p.payload for p in pops if p.kind == "pop"}
    assert by_state["ringing"]["tracking_codes"] == []  # not before it is answered
    assert [c["code"] for c in by_state["answered"]["tracking_codes"]] == [code.code]
    # Replayed again (a resync): no second code.
    await InlineRecorder(app.state.sessionmaker, settings=settings)(events)
    assert len((await session.execute(select(TrackingCode))).scalars().all()) == 1

    # The thread, looked up as the customer reads it out.
    headers = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    spaced = f"{code.code[:4]} {code.code[4:]}"
    thread = (await client.get(f"/api/tracking-codes/{spaced}", headers=headers)).json()
    assert thread["code"] == code.code and [c["id"] for c in thread["calls"]] == [call.id]
    assert thread["owner_name"] == sara.full_name
    r = await client.post(
        f"/api/calls/{call.id}/notes", json={"text": "wants a refund"}, headers=headers
    )
    assert r.status_code == 201, r.text
    thread = (await client.get(f"/api/tracking-codes/{code.code}", headers=headers)).json()
    assert [n["text"] for n in thread["notes"]] == ["wants a refund"]
    mistyped = code.code[:-1] + str((int(code.code[-1]) + 1) % 10)
    r = await client.get(f"/api/tracking-codes/{mistyped}", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "code_mistyped"
    r = await client.patch(
        f"/api/tracking-codes/{code.code}", json={"status": "closed"}, headers=headers
    )
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_at"]
    boss = await make_user(session, Role.supervisor)
    r = await client.patch(
        f"/api/tracking-codes/{code.code}", json={"owner_user_id": boss.id}, headers=headers
    )
    assert r.status_code == 403  # agents do not reassign


async def test_agents_issue_codes_and_link_later_calls(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    conf = settings.model_copy(update={"tracking_auto_issue": False})
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    await make_customer(session, settings, "علی رضایی", ("09121234567",))
    for trace in ("01_direct_answered", "06_click_to_call"):
        _, events = replay(trace)
        await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    assert (await session.execute(select(TrackingCode))).scalars().all() == []
    first, second = (await session.execute(select(Call).order_by(Call.started_at))).scalars().all()
    headers = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    r = await client.post(
        "/api/tracking-codes", json={"call_id": first.id, "subject": "refund"}, headers=headers
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["owner_user_id"] == sara.id and issued["customer_id"] is not None
    r = await client.post(
        f"/api/tracking-codes/{issued['code']}/calls", json={"call_id": second.id}, headers=headers
    )
    assert r.status_code == 200
    thread = (await client.get(f"/api/tracking-codes/{issued['code']}", headers=headers)).json()
    assert [c["id"] for c in thread["calls"]] == [first.id, second.id]
    # Reza may read the case (a customer may quote it to anyone) but cannot attach a call
    # he was not on.
    reza_headers = {"Authorization": f"Bearer {await make_token(session, settings, reza)}"}
    assert (
        await client.get(f"/api/tracking-codes/{issued['code']}", headers=reza_headers)
    ).status_code == 200
    r = await client.post(
        f"/api/tracking-codes/{issued['code']}/calls",
        json={"call_id": first.id},
        headers=reza_headers,
    )
    assert r.status_code == 404


async def test_the_ivr_looks_a_code_up(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    conf = conf_with_pbx(settings)
    app.state.settings = conf
    try:
        sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
        _, events = replay("01_direct_answered")
        await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
        code = (await session.execute(select(TrackingCode))).scalar_one()
        auth = {"Authorization": f"Bearer {PBX_TOKEN}"}
        r = await client.get(f"/pbx/tracking?code={code.code}", headers=auth)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        lines = dict(line.split("=", 1) for line in r.text.splitlines())
        assert lines["valid"] == "1" and lines["found"] == "1" and lines["status"] == "open"
        assert lines["owner_extension"] == "1001" and lines["owner"] == sara.full_name
        mistyped = code.code[:6] + code.code[7] + code.code[6]
        if mistyped != code.code:
            r = await client.get(f"/pbx/tracking?code={mistyped}&format=json", headers=auth)
            assert r.json()["valid"] == "0"
        r = await client.get("/pbx/tracking?code=12345678&format=hash", headers=auth)
        assert r.text.startswith("valid=")
        # The PBX's token, nothing else.
        assert (await client.get(f"/pbx/tracking?code={code.code}")).status_code == 401
        user_token = await make_token(session, settings, sara)
        r = await client.get(
            f"/pbx/tracking?code={code.code}", headers={"Authorization": f"Bearer {user_token}"}
        )
        assert r.status_code == 401
        r = await client.get(f"/pbx/tracking?code={code.code}&token={PBX_TOKEN}")
        assert r.status_code == 200
    finally:
        app.state.settings = settings


async def test_quoting_a_case_merges_the_untouched_automatic_code(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    await make_customer(session, settings, "علی رضایی", ("09121234567",))
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, first = replay("01_direct_answered")
    await recorder(first)
    case = (await session.execute(select(TrackingCode))).scalar_one()
    _, again = replay("A1_persian_name_direct_answered")  # the customer calls back
    await recorder(again)
    later = (await session.execute(select(Call).order_by(Call.started_at.desc()))).scalars().first()
    assert later is not None
    automatic = (
        await session.execute(select(TrackingCode).where(TrackingCode.id != case.id))
    ).scalar_one()
    h = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    r = await client.post(
        f"/api/tracking-codes/{case.code}/calls", json={"call_id": later.id}, headers=h
    )
    assert r.status_code == 200
    await session.refresh(automatic)
    assert automatic.status == "closed" and automatic.subject == f"merged into {case.code}"
    thread = (await client.get(f"/api/tracking-codes/{case.code}", headers=h)).json()
    assert len(thread["calls"]) == 2
    assert thread["names"][str(sara.id)] == sara.full_name
    empty = (await client.get(f"/api/tracking-codes/{automatic.code}", headers=h)).json()
    assert empty["calls"] == [] and empty["status"] == "closed"
