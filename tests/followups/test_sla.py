"""Case SLAs: deadlines on the wall clock unless office hours are set (then the office hours
count, not the Iranian weekend, Friday, nor holidays; the weekend configurable), the
admin's categories and targets, breaches listed and counted in the case report (mean
first-response and resolution times)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.followups.hours import BusinessHours, WallClock, clock_of
from app.models import Role, TrackingCode, User
from tests.fixtures.factories import make_token, make_user

TEHRAN = ZoneInfo("Asia/Tehran")
THURSDAY_4PM = datetime(2026, 12, 10, 16, 0, tzinfo=TEHRAN)  # 1405-09-19


def hours(settings: Settings, **update: object) -> BusinessHours:
    found = BusinessHours.from_settings(settings.model_copy(update=update))
    assert found is not None
    return found


def test_across_a_weekend_the_wall_clock_counts_every_hour(settings: Settings) -> None:
    clock = clock_of(settings)  # no business hours set
    assert isinstance(clock, WallClock)
    assert clock.deadline(THURSDAY_4PM, 24 * 60) == datetime(2026, 12, 11, 16, 0, tzinfo=TEHRAN)
    saturday_10am = datetime(2026, 12, 12, 10, 0, tzinfo=TEHRAN)
    assert clock.elapsed(THURSDAY_4PM, saturday_10am) == timedelta(hours=42)


def test_office_hours_skip_friday_nights_and_holidays(settings: Settings) -> None:
    office = hours(settings, business_hours="08:00-17:00")
    # 4 hours from Thursday 16:00: 1 on Thursday, none on Friday, 3 on Saturday.
    assert office.deadline(THURSDAY_4PM, 240) == datetime(2026, 12, 12, 11, 0, tzinfo=TEHRAN)
    saturday_10am = datetime(2026, 12, 12, 10, 0, tzinfo=TEHRAN)
    assert office.elapsed(THURSDAY_4PM, saturday_10am) == timedelta(hours=3)
    # Opened at night: the clock starts when the office opens.
    night = datetime(2026, 12, 8, 22, 30, tzinfo=TEHRAN)
    assert office.deadline(night, 30) == datetime(2026, 12, 9, 8, 30, tzinfo=TEHRAN)
    # A two-day weekend (Thursday and Friday): Thursday does not count either.
    long_weekend = hours(settings, business_hours="08:00-17:00",
                         business_weekend=["thursday", "Friday"])  # fmt: skip
    assert long_weekend.deadline(THURSDAY_4PM, 240) == datetime(2026, 12, 12, 12, 0, tzinfo=TEHRAN)
    # Saturday a holiday (given in Jalali): on to Sunday.
    holiday = hours(settings, business_hours="08:00-17:00", business_holidays=["۱۴۰۵/۰۹/۲۱"])
    assert holiday.deadline(THURSDAY_4PM, 240) == datetime(2026, 12, 13, 11, 0, tzinfo=TEHRAN)
    # 18 office hours from Thursday 16:00: 1 + (Friday 0) + Saturday's 9 + 8 on Sunday.
    assert office.deadline(THURSDAY_4PM, 18 * 60) == datetime(2026, 12, 13, 16, 0, tzinfo=TEHRAN)


def test_bad_calendars_are_refused_at_start(settings: Settings) -> None:
    base = settings.model_dump()
    for update in (
        {"business_hours": "17:00-08:00"},
        {"business_hours": "8-17"},
        {"business_weekend": ["fryday"]},
        {"business_hours": "08:00-17:00", "business_holidays": ["1405-13-01"]},
        {"business_hours": "08:00-17:00", "business_weekend": [
            "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]},
    ):  # fmt: skip
        with pytest.raises(ValidationError):
            Settings(_env_file=None, **{**base, **update})  # type: ignore[call-arg]


@pytest.fixture
def office_hours(app: FastAPI, settings: Settings) -> Iterator[Settings]:
    conf = settings.model_copy(update={"business_hours": "08:00-17:00"})
    app.state.settings = conf
    yield conf
    app.state.settings = settings


async def _headers(session: AsyncSession, settings: Settings, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


async def test_targets_deadlines_breaches_and_the_report(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    admin = await make_user(session, Role.admin)
    sara = await make_user(session, Role.agent)
    boss = await make_user(session, Role.supervisor)
    ha, hs = await _headers(session, settings, admin), await _headers(session, settings, sara)
    hb = await _headers(session, settings, boss)
    assert (await client.post("/api/cases/categories", json={"name": "billing"}, headers=ha)
            ).status_code == 201  # fmt: skip
    r = await client.post("/api/cases/categories", json={"name": "billing"}, headers=ha)
    assert r.status_code == 409
    for body in (
        {"category": "billing", "priority": "high", "first_response_minutes": 30,
         "resolution_minutes": 240},
        {"category": "", "priority": "", "resolution_minutes": 7 * 24 * 60},
    ):  # fmt: skip
        assert (await client.put("/api/cases/slas", json=body, headers=ha)).status_code == 200
    r = await client.put("/api/cases/slas", json={"category": "nope"}, headers=ha)
    assert r.status_code == 422

    r = await client.post(
        "/api/tracking-codes", json={"subject": "double charge", "category": "billing",
                                     "priority": "high"}, headers=hs,
    )  # fmt: skip
    urgent = r.json()
    opened = datetime.fromisoformat(urgent["created_at"])
    assert datetime.fromisoformat(urgent["first_response_due_at"]) == opened + timedelta(minutes=30)
    assert datetime.fromisoformat(urgent["resolution_due_at"]) == opened + timedelta(hours=4)
    assert not urgent["first_response_breached"]
    r = await client.post("/api/tracking-codes", json={"subject": "question"}, headers=hs)
    plain = r.json()  # the default targets: no first-response target, a week to resolve
    assert plain["first_response_due_at"] is None
    assert datetime.fromisoformat(plain["resolution_due_at"]) == datetime.fromisoformat(
        plain["created_at"]
    ) + timedelta(days=7)
    r = await client.post(
        "/api/tracking-codes", json={"subject": "x", "category": "unknown"}, headers=hs
    )
    assert r.status_code == 422

    # Time passes: the urgent case is past both deadlines (opened 5 hours ago).
    code = await session.get(TrackingCode, urgent["id"])
    assert code is not None
    code.created_at = datetime.now(UTC) - timedelta(hours=5)
    await session.flush()
    r = await client.patch(f"/api/tracking-codes/{urgent['code']}", json={"priority": "low"},
                           headers=hs)  # fmt: skip
    assert r.json()["first_response_due_at"] is None  # re-classified: the default targets
    r = await client.patch(f"/api/tracking-codes/{urgent['code']}", json={"priority": "high"},
                           headers=hs)  # fmt: skip
    assert r.json()["first_response_breached"] and r.json()["resolution_breached"]
    breached = (await client.get("/api/tracking-codes?breached=true", headers=hs)).json()
    assert [c["code"] for c in breached] == [urgent["code"]]
    # Answered 2 hours after it was opened, closed 5 hours after.
    code.first_response_at = code.created_at + timedelta(hours=2)
    await session.flush()
    r = await client.patch(f"/api/tracking-codes/{urgent['code']}", json={"status": "closed"},
                           headers=hs)  # fmt: skip
    assert r.json()["resolution_breached"]
    # The period holds the day the urgent case was opened (yesterday, just after midnight).
    start = code.created_at.astimezone(TEHRAN).date().isoformat()
    today = datetime.now(TEHRAN).date().isoformat()
    report = (await client.get(f"/api/cases/report?from={start}&to={today}", headers=hb)).json()
    rows = {(row["category"], row["priority"]): row for row in report["rows"]}
    billing = rows[("billing", "high")]
    assert (billing["opened"], billing["closed"]) == (1, 1)
    assert billing["mean_first_response_seconds"] == 7200
    assert 5 * 3600 - 5 <= billing["mean_resolution_seconds"] <= 5 * 3600 + 60
    assert (billing["first_response_breached"], billing["resolution_breached"]) == (1, 1)
    total = rows[("*", "*")]
    assert (total["opened"], total["resolution_breached"]) == (2, 1)


async def test_office_hours_set_the_deadlines(
    session: AsyncSession, office_hours: Settings, client: httpx.AsyncClient
) -> None:
    admin = await make_user(session, Role.admin)
    ha = await _headers(session, office_hours, admin)
    await client.put("/api/cases/slas", json={"resolution_minutes": 9 * 60}, headers=ha)
    r = await client.post("/api/tracking-codes", json={"subject": "x"}, headers=ha)
    case = r.json()
    opened = datetime.fromisoformat(case["created_at"])
    due = datetime.fromisoformat(case["resolution_due_at"])
    clock = clock_of(office_hours)
    assert isinstance(clock, BusinessHours) and due == clock.deadline(opened, 9 * 60)
    # Nine office hours: a whole working day (opened before 08:00, it is due at 17:00 that day).
    assert clock.elapsed(opened, due) == timedelta(hours=9) and due - opened >= timedelta(hours=9)
