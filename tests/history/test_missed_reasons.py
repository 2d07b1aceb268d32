"""Missed calls by reason: stored from the tracker, filtered and shown in the history,
counted in the KPIs, and filled in for calls stored before the reason existed."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, CallLeg, Role
from tests.fixtures.factories import make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.history.test_kpi import DAY, call
from tests.telephony.replay import replay


def _migration() -> Any:
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    path = next(versions.glob("*_calls_missed_reason.py"))
    spec = importlib.util.spec_from_file_location("missed_reason_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


async def test_stored_shown_and_filtered(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    await make_user(session, Role.agent, devices=["PJSIP/1001"])
    boss = await make_user(session, Role.supervisor)
    h = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    for trace in ("01_direct_answered", "02_direct_noanswer", "03_direct_busy"):
        _, events = replay(trace)
        await recorder(events)
    stored = {
        c.linkedid: (c.outcome, c.missed_reason)
        for c in (await session.execute(select(Call))).scalars()
    }
    assert sorted(stored.values()) == [
        ("answered", ""),
        ("missed", "declined"),
        ("missed", "no_answer"),
    ]

    r = await client.get("/api/history", headers=h)
    assert r.status_code == 200, r.text
    shown = sorted((c["outcome"], c["missed_reason"]) for c in r.json()["items"])
    assert shown == sorted(stored.values())
    r = await client.get("/api/history?missed_reason=declined", headers=h)
    assert [(c["outcome"], c["missed_reason"]) for c in r.json()["items"]] == [
        ("missed", "declined")
    ]
    r = await client.get("/api/history?missed_reason=declined&missed_reason=no_answer", headers=h)
    assert len(r.json()["items"]) == 2
    r = await client.get("/api/history?missed_reason=nonsense", headers=h)
    assert r.status_code == 422
    r = await client.get("/api/history/export.csv?missed_reason=no_answer", headers=h)
    lines = r.text.lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    assert "missed_reason" in header and len(lines) == 2
    assert lines[1].split(",")[header.index("missed_reason")] == "no_answer"


async def test_kpi_counts_missed_calls_by_reason(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    boss = await make_user(session, Role.supervisor)
    h = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    t = DAY + timedelta(hours=10)
    session.add_all(
        [
            call(t, outcome="missed", missed_reason="no_answer", wait_seconds=30),
            call(t, outcome="missed", missed_reason="no_answer", wait_seconds=30),
            call(t, outcome="missed", missed_reason="declined", wait_seconds=3),
            call(t, outcome="missed", missed_reason="busy"),
            call(t, outcome="abandoned", wait_seconds=40),
            call(t, wait_seconds=2),
            # An agent's call to a busy customer is not the business missing a call.
            call(t, direction="outbound", outcome="busy"),
        ]
    )
    await session.flush()
    r = await client.get("/api/reports/kpi?from=2026-11-22&to=2026-11-22&by=queue", headers=h)
    assert r.status_code == 200, r.text
    [support] = r.json()["rows"]
    assert support["offered"] == 6
    assert support["missed"] == 4
    assert (
        support["missed_no_answer"],
        support["missed_declined"],
        support["missed_busy"],
    ) == (2, 1, 1)
    assert support["abandoned"] == 1 and support["answered"] == 1


async def test_the_migration_fills_stored_calls(session: AsyncSession) -> None:
    """Calls stored before the reason existed: inbound ``busy`` ones become missed (declined
    when a phone rang and refused, busy otherwise), other missed ones get theirs."""
    t = DAY + timedelta(hours=9)
    rejected_ring = [{"device": "PJSIP/1001", "result": "rejected", "at": 0.0}]
    no_ring = [{"device": "PJSIP/1001", "result": "no_answer", "at": 0.0}]
    rows = {
        "rang-then-refused": call(t, outcome="busy", rings=rejected_ring, dial_status="BUSY"),
        "refused-at-once": call(t, outcome="busy", rings=[], dial_status="BUSY"),
        "cause-21": call(t, outcome="busy", rings=[]),
        "rang-out": call(t, outcome="missed", rings=no_ring, dial_status="NOANSWER"),
        "missed-busy-dial": call(t, outcome="missed", dial_status="BUSY"),
        "answered": call(t, outcome="answered"),
        "abandoned": call(t, outcome="abandoned"),
        "outbound-busy": call(t, direction="outbound", outcome="busy"),
    }
    session.add_all(rows.values())
    await session.flush()
    session.add(
        CallLeg(
            call_id=rows["cause-21"].id,
            pbx="kpi",
            uniqueid=f"{rows['cause-21'].linkedid}.2",
            channel="PJSIP/1001-00000001",
            device="PJSIP/1001",
            internal=True,
            created_at=t,
            hangup_cause="21",
        )
    )
    await session.flush()
    # As stored before: no reason anywhere.
    ids = [c.id for c in rows.values()]
    await session.execute(
        text("UPDATE calls SET missed_reason = '' WHERE id = ANY(:ids)"), {"ids": ids}
    )
    migration = _migration()
    for statement in migration.FILL:
        await session.execute(text(statement))
    session.expire_all()

    async def now() -> dict[str, tuple[str, str]]:
        found = {
            c.id: (c.outcome, c.missed_reason)
            for c in (await session.execute(select(Call).where(Call.id.in_(ids)))).scalars()
        }
        return {name: found[c.id] for name, c in rows.items()}

    assert await now() == {
        "rang-then-refused": ("missed", "declined"),
        "refused-at-once": ("missed", "busy"),
        "cause-21": ("missed", "declined"),
        "rang-out": ("missed", "no_answer"),
        "missed-busy-dial": ("missed", "busy"),
        "answered": ("answered", ""),
        "abandoned": ("abandoned", ""),
        "outbound-busy": ("busy", ""),
    }
    for statement in migration.UNDO:
        await session.execute(text(statement))
    session.expire_all()
    back = await now()
    assert back["rang-then-refused"][0] == back["refused-at-once"][0] == "busy"
    assert back["rang-out"][0] == "missed"
