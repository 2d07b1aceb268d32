"""Period reports: Jalali months at Nowruz (1 Farvardin 1405 = 2026-03-21, in Tehran time),
weeks from Saturday, sums not averages of averages, the previous period compared, the heat
map, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Role
from app.supervision.periods import bucket
from tests.fixtures.factories import make_token, make_user

TEHRAN = ZoneInfo("Asia/Tehran")


def test_buckets_at_the_boundaries() -> None:
    assert bucket(date(2026, 3, 20), "jalali_month") == (
        "1404-12",
        date(2026, 2, 20),
        date(2026, 3, 20),
    )
    assert bucket(date(2026, 3, 21), "jalali_month") == (
        "1405-01",
        date(2026, 3, 21),
        date(2026, 4, 20),
    )
    assert bucket(date(2026, 3, 21), "month") == ("2026-03", date(2026, 3, 1), date(2026, 3, 31))
    # 2026-03-21 is a Saturday: its own week's first day; the Friday before is the week before.
    assert bucket(date(2026, 3, 21), "week")[0] == "2026-03-21"
    assert bucket(date(2026, 3, 20), "week")[0] == "2026-03-14"
    assert bucket(date(2026, 3, 20), "week", week_starts=0)[0] == "2026-03-16"


def call(at: datetime, outcome: str, wait: float, talk: float = 0.0, n: list[int] = [0]) -> Call:  # noqa: B006
    n[0] += 1
    return Call(
        pbx="main",
        linkedid=f"period-{n[0]}",
        direction="inbound",
        outcome=outcome,
        queue="support",
        started_at=at,
        wait_seconds=wait,
        talk_seconds=talk,
    )


async def test_jalali_months_at_nowruz_and_the_previous_period(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    boss = await make_user(session, Role.supervisor)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    last_of_1404 = datetime(2026, 3, 20, 23, 30, tzinfo=TEHRAN)  # 20:00 UTC, still Esfand
    first_of_1405 = datetime(2026, 3, 21, 0, 30, tzinfo=TEHRAN)  # 21:00 UTC on the 20th
    session.add_all(
        [
            call(last_of_1404, "answered", wait=10, talk=100),
            call(last_of_1404, "abandoned", wait=30),
            call(first_of_1405, "answered", wait=40, talk=300),
            call(first_of_1405, "answered", wait=5, talk=60),
            call(first_of_1405, "abandoned", wait=2),  # a short abandon
            # The period before (2026-03-18..19): one call answered in time.
            call(datetime(2026, 3, 18, 10, tzinfo=TEHRAN), "answered", wait=3, talk=50),
        ]
    )
    await session.flush()
    params = {"from": "1404-12-29", "to": "1405-01-01", "by": "jalali_month"}
    r = await client.get("/api/supervision/periods", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    esfand, farvardin = body["groups"]
    assert (esfand["key"], esfand["offered"], esfand["answered"], esfand["abandoned"]) == (
        "1404-12",
        2,
        1,
        1,
    )
    assert (farvardin["key"], farvardin["first_day"]) == ("1405-01", "2026-03-21")
    assert (farvardin["offered"], farvardin["answered"], farvardin["short_abandoned"]) == (3, 2, 1)
    # One of two (offered less the short abandon) within 20 s; ASA over the answered.
    assert (farvardin["service_level_pct"], farvardin["asa_seconds"]) == (50.0, 22.5)
    total = body["total"]
    # The period's own sums: 2 of 4 in time (not the mean of 100 % and 50 %), ASA 55/3.
    assert (total["offered"], total["service_level_pct"], total["asa_seconds"]) == (5, 50.0, 18.3)
    assert body["previous"]["from"] == datetime(2026, 3, 18, tzinfo=TEHRAN).isoformat()
    offered = body["compared"]["offered"]
    assert offered == {"now": 5, "before": 1, "delta": 4, "delta_pct": 400.0}
    assert body["compared"]["service_level_pct"]["delta"] == 50.0 - 100.0

    days = await client.get(
        "/api/supervision/periods", params={**params, "by": "day"}, headers=headers
    )
    assert [g["key"] for g in days.json()["groups"]] == ["2026-03-20", "2026-03-21"]

    r = await client.get(
        "/api/supervision/periods", params={**params, "format": "csv"}, headers=headers
    )
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [row["key"] for row in rows] == ["1404-12", "1405-01", "total", "previous"]
    assert rows[2]["offered"] == "5" and rows[3]["offered"] == "1"

    r = await client.get(
        "/api/supervision/periods/heatmap",
        params={"from": "1404-12-29", "to": "1405-01-01"},
        headers=headers,
    )
    heat = r.json()
    # Friday 23:00 (ISO 5) and Saturday 00:00 (ISO 6), Tehran time.
    assert heat["answered"][4][23] == 1 and heat["abandoned"][4][23] == 1
    assert heat["answered"][5][0] == 2 and heat["abandoned"][5][0] == 1
    assert sum(map(sum, heat["answered"])) == 3
