"""Tasks and reminders on a customer or a case: due times, the panel's "due today /
overdue" counts, who sees what, and the reminder pop (once; again when snoozed; never for a
task done)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.followups.service import FollowupService
from app.models import PopEvent, Role, User
from app.tracking.service import TrackingService
from tests.fixtures.factories import make_customer, make_token, make_user


async def _headers(session: AsyncSession, settings: Settings, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


async def test_due_today_and_overdue_counts(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    h = await _headers(session, settings, sara)
    zone = ZoneInfo(settings.time_zone)
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)
    later_today = now + (tomorrow - now) / 2
    for title, due in [
        ("overdue", "1405-01-15 09:00"),  # 4 April 2026
        ("later today", later_today.isoformat()),
        ("tomorrow", (tomorrow + timedelta(hours=10)).isoformat()),
        ("no due time", None),
    ]:
        r = await client.post("/api/tasks", json={"title": title, "due_at": due}, headers=h)
        assert r.status_code == 201, r.text
    listed = (await client.get("/api/tasks", headers=h)).json()
    assert [(t["title"], t["overdue"]) for t in listed] == [
        ("overdue", True), ("later today", False), ("tomorrow", False), ("no due time", False),
    ]  # fmt: skip
    assert listed[0]["due_at"] == "2026-04-04T05:30:00Z"  # 09:00 Tehran (+03:30)
    summary = (await client.get("/api/tasks/summary", headers=h)).json()
    assert summary == {
        "overdue": 1, "due_today": 1, "open": 4, "callbacks_due": 0, "contracts_ending": 0,
    }  # fmt: skip
    r = await client.post(f"/api/tasks/{listed[0]['id']}/done", json={"note": "sent"}, headers=h)
    assert r.json()["done_note"] == "sent" and r.json()["done_at"]
    summary = (await client.get("/api/tasks/summary", headers=h)).json()
    assert (summary["overdue"], summary["open"]) == (0, 3)
    r = await client.post("/api/tasks", json={"title": "x", "due_at": "1405-07-31"}, headers=h)
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["due_at"]


async def test_tasks_on_a_case_and_who_sees_them(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara, reza = await make_user(session, Role.agent), await make_user(session, Role.agent)
    boss = await make_user(session, Role.supervisor)
    hs, hr = await _headers(session, settings, sara), await _headers(session, settings, reza)
    hb = await _headers(session, settings, boss)
    customer = await make_customer(session, settings, "نرگس صالحی", ("09127770001",))
    code = await TrackingService(session, settings).issue(
        by=sara, call_id=None, customer_id=customer.id, subject="refund"
    )
    r = await client.post(
        "/api/tasks", json={"title": "call about the refund", "tracking_code": code.code,
                            "in_minutes": 60}, headers=hs,
    )  # fmt: skip
    task = r.json()
    assert (task["customer_id"], task["customer_name"], task["tracking_code"]) == (
        customer.id, "نرگس صالحی", code.code,
    )  # fmt: skip
    assert task["remind_at"] == task["due_at"]
    of_case = (await client.get(f"/api/tasks?tracking_code={code.code}", headers=hs)).json()
    assert [t["id"] for t in of_case] == [task["id"]]
    # Another agent neither sees nor changes it; an agent gives tasks only to themselves.
    assert (await client.get("/api/tasks", headers=hr)).json() == []
    r = await client.patch(f"/api/tasks/{task['id']}", json={"title": "mine"}, headers=hr)
    assert r.status_code == 404
    r = await client.post(
        "/api/tasks", json={"title": "for reza", "assignee_user_id": reza.id}, headers=hs
    )
    assert r.status_code == 403
    assert (await client.get("/api/tasks?everyone=true", headers=hs)).status_code == 403
    # A supervisor hands one to Reza, and sees everyone's.
    r = await client.post(
        "/api/tasks", json={"title": "for reza", "assignee_user_id": reza.id}, headers=hb
    )
    assert r.status_code == 201
    assert [t["title"] for t in (await client.get("/api/tasks", headers=hr)).json()] == ["for reza"]
    everyone = (await client.get("/api/tasks?everyone=true", headers=hb)).json()
    assert {t["id"] for t in everyone} >= {task["id"], r.json()["id"]}


async def test_a_reminder_pops_once_again_when_snoozed_never_when_done(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    h = await _headers(session, settings, sara)
    customer = await make_customer(session, settings, "بهرام نیک", ("09127770002",))
    r = await client.post(
        "/api/tasks", json={"title": "send the contract", "customer_id": customer.id,
                            "due_at": "2026-01-05 10:00"}, headers=h,
    )  # fmt: skip
    task_id = r.json()["id"]
    r = await client.post(
        "/api/tasks", json={"title": "finished already", "due_at": "2026-01-05 10:00"}, headers=h
    )
    await client.post(f"/api/tasks/{r.json()['id']}/done", json={}, headers=h)
    await client.post("/api/tasks", json={"title": "no reminder", "remind": False}, headers=h)
    followups = FollowupService(session, settings)
    assert await followups.fire_due() == 1
    assert await followups.fire_due() == 0
    (pop,) = (await session.execute(select(PopEvent))).scalars().all()
    assert (pop.user_id, pop.kind, pop.linkedid) == (sara.id, "reminder", f"task-{task_id}")
    assert pop.payload["title"] == "send the contract"
    assert pop.payload["customer_name"] == "بهرام نیک"
    r = await client.post(f"/api/tasks/{task_id}/snooze", json={"minutes": 10}, headers=h)
    snoozed = datetime.fromisoformat(r.json()["remind_at"])
    assert await followups.fire_due() == 0
    assert await followups.fire_due(snoozed + timedelta(seconds=1)) == 1
    await client.post(f"/api/tasks/{task_id}/done", json={}, headers=h)
    await client.post(f"/api/tasks/{task_id}/snooze", json={"minutes": 1}, headers=h)
    assert await followups.fire_due(datetime.now(UTC) + timedelta(minutes=2)) == 0
