"""Callbacks: repeated missed calls merge into one, due times (now, in N minutes, Jalali or
Gregorian), the retry policy, dismissing with a reason, supervisors' bulk actions, the
"due now" pop (once), and a click-to-call placed for a callback recorded as its try."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.callbacks.policy import after_try
from app.callbacks.service import CallbackService
from app.config import Settings
from app.followups.service import FollowupService
from app.models import Callback, CallbackAttempt, Origination, PopEvent, QueueMember, Role
from tests.cases.test_callbacks_and_notes import renumbered
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


async def _headers(session: AsyncSession, settings: Settings, user: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}  # type: ignore[arg-type]


async def _pops(session: AsyncSession, kind: str) -> list[PopEvent]:
    stmt = select(PopEvent).where(PopEvent.kind == kind).order_by(PopEvent.id)
    return list((await session.execute(stmt)).scalars())


async def test_repeated_missed_calls_merge_and_a_manual_one_joins_them(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    h = await _headers(session, settings, sara)
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, missed = replay("02_direct_noanswer")
    for suffix in ("", "-2", "-3"):
        await recorder(renumbered(missed, suffix))
    (listed,) = (await client.get("/api/callbacks?status=due", headers=h)).json()
    got = (listed["number"], listed["attempts"], listed["source"])
    assert got == ("+982188776655", 3, "missed")
    assert listed["due_at"] == listed["first_call_at"]  # owed from the first missed call
    # Scheduling a callback for the same number (written another way) reschedules that one.
    r = await client.post(
        "/api/callbacks",
        json={"number": "021 8877 6655", "in_minutes": 30, "assigned_user_id": sara.id,
              "note": "about the invoice"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["id"] == listed["id"] and r.json()["attempts"] == 3
    assert r.json()["assigned_user_id"] == sara.id and r.json()["note"] == "about the invoice"
    assert len((await session.execute(select(Callback))).scalars().all()) == 1


async def test_due_times_jalali_gregorian_and_bad_input(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    h = await _headers(session, settings, sara)
    # 20 Azar 1405, 14:30 in Tehran (+03:30) is 11 December 2026, 11:00 UTC.
    cases = [
        ("09121110001", {"due_at": "۱۴۰۵/۰۹/۲۰ ۱۴:۳۰"}, "2026-12-11T11:00:00+00:00"),
        ("09121110002", {"due_at": "2026-12-11 14:30"}, "2026-12-11T11:00:00+00:00"),
        ("09121110003", {"due_at": "2026-12-11T14:30:00+00:00"}, "2026-12-11T14:30:00+00:00"),
    ]
    for number, due, expected in cases:
        r = await client.post("/api/callbacks", json={"number": number, **due}, headers=h)
        assert r.status_code == 201, r.text
        assert datetime.fromisoformat(r.json()["due_at"]) == datetime.fromisoformat(expected)
    before = datetime.now(UTC)
    body = {"number": "09121110004", "in_minutes": 90}
    r = await client.post("/api/callbacks", json=body, headers=h)
    due = datetime.fromisoformat(r.json()["due_at"])
    assert before + timedelta(minutes=90) <= due <= datetime.now(UTC) + timedelta(minutes=90)
    for body, field in [
        ({"number": "09121110005", "due_at": "1405-13-01"}, "due_at"),
        ({"number": "09121110005", "due_at": "tomorrow"}, "due_at"),
        ({"number": "09121110005", "due_at": "1405-09-20", "in_minutes": 5}, "due_at"),
        ({"number": "not a number"}, "number"),
    ]:
        r = await client.post("/api/callbacks", json=body, headers=h)
        assert r.status_code == 422, body
        assert [f["field"] for f in r.json()["error"]["fields"]] == [field], r.text
    # An agent schedules for themselves or a queue, not for another agent.
    other = await make_user(session, Role.agent)
    r = await client.post(
        "/api/callbacks", json={"number": "09121110006", "assigned_user_id": other.id}, headers=h
    )
    assert r.status_code == 403


def test_the_retry_policy() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert after_try("no_answer", 1, 3, 20, now).due_at == now + timedelta(minutes=20)
    assert after_try("busy", 2, 3, 20, now).due_at == now + timedelta(minutes=20)
    assert after_try("busy", 3, 3, 20, now).reason == "gave_up"
    assert after_try("reached", 1, 3, 20, now).reason == "reached"
    assert after_try("wrong_number", 1, 3, 20, now).reason == "wrong_number"


async def test_tries_reschedule_until_used_up_and_pop_when_due_again(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    h = await _headers(session, settings, sara)
    await make_customer(session, settings, "مینا کاظمی", ("09125550001",))
    r = await client.post(
        "/api/callbacks",
        json={"number": "09125550001", "assigned_user_id": sara.id, "max_tries": 2,
              "retry_minutes": 15},
        headers=h,
    )  # fmt: skip
    callback_id = r.json()["id"]
    assert r.json()["customer_name"] == "مینا کاظمی"
    followups = FollowupService(session, settings)
    now = datetime.now(UTC)
    assert await followups.fire_due(now) == 1
    assert await followups.fire_due(now) == 0  # once
    (pop,) = await _pops(session, "callback_due")
    assert pop.user_id == sara.id and pop.payload["callback_id"] == callback_id
    assert pop.payload["customer_name"] == "مینا کاظمی"

    r = await client.post(
        f"/api/callbacks/{callback_id}/attempts", json={"outcome": "no_answer"}, headers=h
    )
    body = r.json()
    assert (body["status"], body["tries"], body["last_outcome"]) == ("open", 1, "no_answer")
    due = datetime.fromisoformat(body["due_at"])
    assert now + timedelta(minutes=15) <= due <= datetime.now(UTC) + timedelta(minutes=15)
    assert await followups.fire_due(datetime.now(UTC)) == 0  # not due yet
    assert await followups.fire_due(due + timedelta(seconds=1)) == 1  # due again: pops again
    assert len(await _pops(session, "callback_due")) == 2

    r = await client.post(
        f"/api/callbacks/{callback_id}/attempts", json={"outcome": "busy", "note": "engaged"},
        headers=h,
    )  # fmt: skip
    body = r.json()
    assert (body["status"], body["done_reason"], body["tries"]) == ("done", "gave_up", 2)
    tries = (await client.get(f"/api/callbacks/{callback_id}/attempts", headers=h)).json()
    assert [(t["outcome"], t["note"], t["user_id"]) for t in tries] == [
        ("no_answer", "", sara.id),
        ("busy", "engaged", sara.id),
    ]
    r = await client.post(
        f"/api/callbacks/{callback_id}/attempts", json={"outcome": "busy"}, headers=h
    )
    assert r.status_code == 409


async def test_dismiss_with_a_reason_and_supervisors_bulk_actions(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    boss = await make_user(session, Role.supervisor)
    h, hb = await _headers(session, settings, sara), await _headers(session, settings, boss)
    ids = []
    for n in range(4):
        r = await client.post("/api/callbacks", json={"number": f"0912444000{n}"}, headers=h)
        ids.append(r.json()["id"])
    r = await client.post(f"/api/callbacks/{ids[0]}/dismiss", json={"reason": ""}, headers=h)
    assert r.status_code == 422
    r = await client.post(
        f"/api/callbacks/{ids[0]}/dismiss", json={"reason": "called us by email"}, headers=h
    )
    assert (r.json()["status"], r.json()["done_reason"], r.json()["done_note"]) == (
        "done", "dismissed", "called us by email",
    )  # fmt: skip
    r = await client.post(
        "/api/callbacks/bulk", json={"ids": ids[1:], "action": "seen"}, headers=hb
    )
    assert r.json() == {"changed": 3}
    r = await client.post("/api/callbacks/bulk", json={"ids": ids, "action": "dismiss"}, headers=hb)
    assert r.status_code == 422  # no reason
    r = await client.post(
        "/api/callbacks/bulk", json={"ids": ids, "action": "dismiss", "reason": "duplicate"},
        headers=hb,
    )  # fmt: skip
    assert r.json() == {"changed": 3}  # the one dismissed already is left as it was
    rows = {c.id: c for c in (await session.execute(select(Callback))).scalars()}
    assert rows[ids[0]].done_note == "called us by email"
    assert all(rows[i].done_note == "duplicate" for i in ids[1:])
    assert all(rows[i].seen_by_user_id == boss.id for i in ids[1:])
    assert (await client.get("/api/callbacks?status=due", headers=h)).json() == []


async def test_a_queues_callback_pops_on_its_agents_panels(
    session: AsyncSession, settings: Settings
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    await make_user(session, Role.agent, devices=["PJSIP/1003"])  # not in the queue
    now = datetime.now(UTC)
    for device in ("PJSIP/1001", "PJSIP/1002"):
        session.add(QueueMember(pbx="pbx1", queue="support", interface=device, updated_at=now))
    session.add(
        Callback(pbx="pbx1", number="09120000001", e164="+989120000001", queue="support",
                 first_call_at=now, last_call_at=now, due_at=now - timedelta(minutes=1))
    )  # fmt: skip
    await session.flush()
    assert await FollowupService(session, settings).fire_due() == 2
    assert sorted(p.user_id for p in await _pops(session, "callback_due")) == sorted(
        [sara.id, reza.id]
    )


async def test_a_call_placed_for_a_callback_is_its_try(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    h = await _headers(session, settings, sara)
    r = await client.post("/api/callbacks", json={"number": "09121234567"}, headers=h)
    callback_id = r.json()["id"]
    service = CallbackService(session, settings)
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, outbound = replay("06_click_to_call")

    async def place(ref: str, outcome: str) -> None:
        origination = Origination(
            ref=ref, user_id=sara.id, pbx="pbx1", device="PJSIP/1001", number="09121234567",
            dialled="09121234567", e164="+989121234567",
        )  # fmt: skip
        session.add(origination)
        await session.flush()
        await service.dialling(sara, callback_id, origination)
        events = [dataclasses.replace(e, call=dataclasses.replace(e.call, origination=ref))
                  for e in renumbered(outbound, ref)]  # fmt: skip
        last = events[-1]
        if outcome != "answered":
            last = dataclasses.replace(
                last, call=dataclasses.replace(last.call, outcome=outcome, answered_at=None)
            )
        await recorder([e for e in events[:-1] if e.kind != "answered"] + [last])

    await place("tamas-cb-first", "busy")
    callback = await session.get(Callback, callback_id)
    assert callback is not None
    await session.refresh(callback)
    assert (callback.status, callback.tries, callback.last_outcome) == ("claimed", 1, "busy")
    assert callback.claimed_by_user_id == sara.id and callback.origination_ref is None
    await place("tamas-cb-second", "answered")
    await session.refresh(callback)
    assert (callback.status, callback.done_reason, callback.tries) == ("done", "called_back", 2)
    tries = (await session.execute(
        select(CallbackAttempt.outcome, CallbackAttempt.call_id, CallbackAttempt.user_id)
        .where(CallbackAttempt.callback_id == callback_id).order_by(CallbackAttempt.id)
    )).all()  # fmt: skip
    assert [(o, u) for o, _, u in tries] == [("busy", sara.id), ("reached", sara.id)]
    assert all(call_id is not None for _, call_id, _ in tries)
    assert callback.done_call_id == tries[1][1]
