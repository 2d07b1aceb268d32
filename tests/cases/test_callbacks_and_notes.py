"""Callbacks owed to callers who did not get through, and notes and dispositions shown in
later pops."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Callback, PopEvent, Role
from telephony.model import CallEvent
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


def renumbered(events: list[CallEvent], linkedid_suffix: str) -> list[CallEvent]:
    """The trace's events as another call of the same kind (a new linkedid)."""
    out = []
    for e in events:
        call = dataclasses.replace(e.call, linkedid=e.call.linkedid + linkedid_suffix)
        out.append(dataclasses.replace(e, call=call))
    return out


async def test_missed_calls_become_one_callback_done_when_called_back(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, missed = replay("02_direct_noanswer")
    await recorder(missed)
    await recorder(renumbered(missed, "-again"))  # the same number tries again
    (callback,) = (await session.execute(select(Callback))).scalars().all()
    assert (callback.number, callback.attempts, callback.status) == ("+982188776655", 2, "open")
    _, abandoned = replay("05_queue_abandoned")
    await recorder(abandoned)
    sara_h = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    reza_h = {"Authorization": f"Bearer {await make_token(session, settings, reza)}"}
    listed = (await client.get("/api/callbacks", headers=sara_h)).json()
    assert [(c["number"], c["attempts"], c["queue"]) for c in listed] == [
        ("+982188776655", 2, ""),
        ("09187654321", 1, "support"),
    ]
    r = await client.post(f"/api/callbacks/{callback.id}/claim", headers=sara_h)
    assert r.status_code == 200 and r.json()["claimed_by_user_id"] == sara.id
    assert (
        await client.post(f"/api/callbacks/{callback.id}/claim", headers=reza_h)
    ).status_code == 409
    mine = (await client.get("/api/callbacks?status=claimed&mine=true", headers=sara_h)).json()
    assert [c["id"] for c in mine] == [callback.id]
    # Sara calls back (a click-to-call to that number) and the customer answers.
    _, outbound = replay("06_click_to_call")
    last = outbound[-1]
    to_them = dataclasses.replace(
        last.call, customer_number="02188776655", customer_e164="+982188776655"
    )
    await recorder([*outbound[:-1], dataclasses.replace(last, call=to_them)])
    await session.refresh(callback)
    assert (callback.status, callback.done_reason) == ("done", "called_back")
    assert callback.done_call_id is not None
    # A new missed call from them opens a new callback.
    await recorder(renumbered(missed, "-later"))
    statuses = sorted(c.status for c in (await session.execute(select(Callback))).scalars())
    assert statuses == ["done", "open", "open"]


async def test_notes_and_dispositions_show_in_later_pops(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    await make_customer(session, settings, "علی رضایی", ("09121234567",))
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, first = replay("01_direct_answered")
    await recorder(first)
    call = (await session.execute(select(Call))).scalar_one()
    h = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    r = await client.put(
        f"/api/calls/{call.id}/disposition", json={"disposition": "complaint"}, headers=h
    )
    assert r.status_code == 200 and r.json()["disposition"] == "complaint"
    r = await client.put(
        f"/api/calls/{call.id}/disposition", json={"disposition": "gossip"}, headers=h
    )
    assert r.status_code == 422
    await client.post(
        f"/api/calls/{call.id}/notes", json={"text": "router keeps rebooting"}, headers=h
    )
    notes = (await client.get(f"/api/calls/{call.id}/notes", headers=h)).json()
    assert [n["text"] for n in notes] == ["router keeps rebooting"]
    # The same customer calls again: the pop's last calls carry the note and disposition.
    await recorder(renumbered(first, "-2"))
    pops = (await session.execute(select(PopEvent).order_by(PopEvent.id.desc()))).scalars().all()
    latest = next(p for p in pops if p.kind == "pop")
    (past,) = latest.payload["last_calls"]
    assert past["disposition"] == "complaint"
    assert [n["text"] for n in past["notes"]] == ["router keeps rebooting"]
    assert past["tracking_codes"] and past["tracking_codes"][0]["status"] == "open"
    # The customer's own open cases are on the card, apart from this call's code.
    card = latest.payload["customers"][0]
    assert [c["code"] for c in card["open_tracking_codes"]] == [past["tracking_codes"][0]["code"]]
    assert card["contract"]["status"] == "none"
    # Another agent cannot write on Sara's call.
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    rh = {"Authorization": f"Bearer {await make_token(session, settings, reza)}"}
    r = await client.post(f"/api/calls/{call.id}/notes", json={"text": "x"}, headers=rh)
    assert r.status_code == 404
