"""KPI figures against hand-computed expectations on a known set of calls, edge cases
included: an abandon at 0 s, a call moved between queues, a call across midnight."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Callback, Role
from tests.fixtures.factories import make_token, make_user

_ids = itertools.count(1)
# Tehran is UTC+3:30: 2026-11-22 in Tehran runs from 2026-11-21T20:30Z.
DAY = datetime(2026, 11, 21, 20, 30, tzinfo=UTC)


def call(at: datetime, **fields: object) -> Call:
    n = next(_ids)
    values: dict[str, object] = {
        "pbx": "kpi",
        "linkedid": f"kpi.{n}",
        "direction": "inbound",
        "outcome": "answered",
        "queue": "support",
        "started_at": at,
        "wait_seconds": 0.0,
        "talk_seconds": 0.0,
        "hold_seconds": 0.0,
    }
    values.update(fields)
    return Call(**values)


async def test_queue_and_agent_figures(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    reza = await make_user(session, Role.agent)
    boss = await make_user(session, Role.supervisor)
    h = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    t = DAY + timedelta(hours=10)
    calls = [
        # support: 2 answered in SL (10 s, 20 s), 1 answered late (40 s), an abandon at 0 s
        # (short), an abandon after 30 s, one missed (nobody answered).
        call(t, answered_by_user_id=sara.id, wait_seconds=10, talk_seconds=100, hold_seconds=20),
        call(t, answered_by_user_id=sara.id, wait_seconds=20, talk_seconds=200),
        call(t, answered_by_user_id=reza.id, wait_seconds=40, talk_seconds=60),
        call(t, outcome="abandoned", wait_seconds=0),
        call(t, outcome="abandoned", wait_seconds=30),
        call(t, outcome="missed", wait_seconds=25),
        # sales: a call moved there from support is counted where it ended (its queue).
        call(t, queue="sales", answered_by_user_id=reza.id, wait_seconds=5, talk_seconds=30),
        # Outbound and internal calls are not offered to queues.
        call(t, direction="outbound", queue="", answered_by_user_id=sara.id, talk_seconds=50),
        # Across midnight (Tehran): starts on the 22nd at 23:59:50, counted on the 22nd.
        call(
            DAY + timedelta(hours=23, minutes=59, seconds=50),
            answered_by_user_id=sara.id,
            wait_seconds=5,
            talk_seconds=600,
        ),
        # The next day, and a live call: neither in the report of the 22nd.
        call(DAY + timedelta(days=1, hours=1), answered_by_user_id=sara.id, wait_seconds=1),
        call(t, outcome="live"),
    ]
    session.add_all(calls)
    await session.flush()
    session.add(
        Callback(
            pbx="kpi",
            number="0912",
            queue="support",
            attempts=1,
            first_call_at=t,
            last_call_at=t,
            status="done",
            done_at=t + timedelta(hours=1),
            done_call_id=calls[7].id,
            done_reason="called_back",
        )
    )
    await session.flush()
    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-22&by=queue", headers=h)
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in r.json()["rows"]}
    support = rows["support"]
    # offered 7 (incl. the midnight call); short abandon 1 -> SL base 6; within 20 s: 10 s,
    # 20 s, 5 s (midnight) = 3 -> 50 %.
    assert support["offered"] == 7
    assert support["answered"] == 4
    assert support["abandoned"] == 1 and support["short_abandoned"] == 1
    assert support["missed"] == 1
    assert support["service_level_pct"] == 50.0
    assert support["asa_seconds"] == round((10 + 20 + 40 + 5) / 4, 1)
    assert support["longest_wait_seconds"] == 40.0
    assert support["avg_talk_seconds"] == round((100 + 200 + 60 + 600) / 4, 1)
    assert support["avg_handle_seconds"] == round((120 + 200 + 60 + 600) / 4, 1)
    assert support["callbacks_done"] == 1
    assert rows["sales"]["offered"] == 1 and rows["sales"]["service_level_pct"] == 100.0
    # Calls that reached no queue (the outbound one) have their row: the rows add up to
    # the report's total.
    assert set(rows) == {"support", "sales", ""}
    assert rows[""]["offered"] == 0 and rows[""]["outbound"] == 1
    assert r.json()["total"]["offered"] == 8 and r.json()["total"]["outbound"] == 1

    r = await client.get("/api/reports/kpi?from=1405-09-01&to=1405-09-01&by=agent", headers=h)
    agents = {row["key"]: row for row in r.json()["rows"]}
    assert agents[sara.id]["answered"] == 3 and agents[sara.id]["outbound"] == 1
    assert agents[sara.id]["talk_total_seconds"] == 100 + 200 + 50 + 600
    assert agents[sara.id]["label"] == sara.full_name
    assert agents[reza.id]["answered"] == 2
    assert agents[sara.id]["callbacks_done"] == 1

    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-23&by=day", headers=h)
    days = {row["key"]: row["offered"] for row in r.json()["rows"]}
    assert days == {"2026-11-22": 8, "2026-11-23": 1}  # inbound calls only
    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-22&by=hour", headers=h)
    hours = {row["key"]: row["offered"] for row in r.json()["rows"]}
    assert hours == {"2026-11-22 10:00": 7, "2026-11-22 23:00": 1}
    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-23&by=week", headers=h)
    # Both days are in the Iranian week starting Saturday 2026-11-21.
    assert [(row["key"], row["offered"]) for row in r.json()["rows"]] == [("2026-11-21", 9)]
    csv_r = await client.get(
        "/api/reports/kpi?from=2026-11-22&to=2026-11-22&by=queue&format=csv", headers=h
    )
    assert csv_r.text.startswith("\ufeffkey,label,offered")

    # An agent sees only their own figures.
    sh = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-22&by=queue", headers=sh)
    assert [row["key"] for row in r.json()["rows"]] == [sara.id]
