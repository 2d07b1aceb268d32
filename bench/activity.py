"""Agents' activity at scale: a month of state intervals for 500 agents (every call's ring,
talk and wrap-up, breaks, lunch, a few missed rings and unreachable spells, on the per-queue
and the per-agent tracks, as the listener writes them) and the calls they answered; then the
per-agent month report (``ActivityService.report``, the statements
``GET /api/supervision/activity?agent=`` runs) timed for many agents, the team's month and
one agent's day timeline.

    .venv/bin/python bench/activity.py --agents 500 --days 30 --calls-per-day 40

Goal (issue 16): the per-agent month report p95 under 300 ms.

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise an
embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end). The
activity and calls tables must be empty at the start (the rows made here are deleted at the
end unless ``--keep``). Human-readable figures first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import Stats, bench_settings, run_and_print

from app.db import Database
from app.supervision.activity_service import ActivityService

ACTIVITY_COLUMNS = (
    "pbx", "interface", "queue", "user_id", "state", "reason", "started_at", "ended_at",
)  # fmt: skip
CALL_COLUMNS = (
    "pbx", "linkedid", "direction", "outcome", "started_at", "answered_at", "ended_at",
    "answered_by_user_id", "queue", "caller_number", "caller_name", "called_number",
    "customer_number", "did", "answered_by", "hangup_cause", "hangup_cause_text", "dial_status",
    "hung_up_by", "wait_seconds", "talk_seconds", "hold_seconds", "recordings", "rings",
    "transfers", "end_reason", "disposition",
)  # fmt: skip


def agent_day(
    rng: random.Random, user_id: int, interface: str, queue: str, start: datetime, calls: int
) -> tuple[list[tuple[Any, ...]], list[tuple[str, datetime, datetime]]]:
    """One agent's shift: 8 hours from ``start``; the (state, reason, from, to) intervals on
    both tracks, and the calls answered (id, start, answer)."""
    spans: list[tuple[str, str, datetime, datetime]] = []
    t = start
    end = start + timedelta(hours=8)
    lunch_at = start + timedelta(hours=4)
    lunched = False

    def add(state: str, reason: str, seconds: float) -> None:
        nonlocal t
        until = min(t + timedelta(seconds=seconds), end)
        if until > t:
            spans.append((state, reason, t, until))
        t = until

    answered: list[tuple[str, datetime, datetime]] = []
    gap = 8 * 3600 / max(calls, 1)
    n = 0
    while t < end:
        if not lunched and t >= lunch_at:
            add("pause", "lunch", 45 * 60)
            lunched = True
            continue
        add("idle", "", rng.expovariate(1 / (gap * 0.6)))
        roll = rng.random()
        if roll < 0.04:
            add("pause", rng.choice(("break", "training", "meeting")), rng.uniform(300, 900))
        elif roll < 0.06:
            add("unavailable", "", rng.uniform(60, 600))
        elif roll < 0.10:
            add("ringing", "no_answer", 15)  # a missed ring
        else:
            ring_start = t
            add("ringing", "", rng.uniform(2, 12))
            answered_at = t
            add("talking", "", rng.expovariate(1 / 180))
            add("wrapup", "", rng.uniform(10, 60))
            n += 1
            answered.append((f"{user_id}-{start:%Y%m%d}-{n}", ring_start, answered_at))
    rows = []
    for state, reason, lo, hi in spans:
        rows.append(("bench", interface, queue, user_id, state, reason, lo, hi))
        rows.append(
            ("bench", interface, "", user_id, state, "" if state == "ringing" else reason, lo, hi)
        )
    return rows, answered


async def seed(db: Database, args: argparse.Namespace) -> tuple[list[int], int, int]:
    assert db.sessionmaker is not None
    raw: Any
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        found = await raw.fetchval("SELECT count(*) FROM agent_activity")
        if found:
            raise SystemExit(f"agent_activity holds {found} rows: start from an empty table")
        ids = []
        for n in range(args.agents):
            ids.append(
                await raw.fetchval(
                    "INSERT INTO users (username, full_name, role, password_hash, is_active)"
                    " VALUES ($1, $2, 'agent', 'x', true) RETURNING id",
                    f"bench-agent-{n}",
                    f"Bench agent {n}",
                )
            )
            await raw.execute(
                "INSERT INTO user_devices (user_id, device) VALUES ($1, $2)",
                ids[-1],
                f"PJSIP/9{n:04d}",
            )
        rng = random.Random(args.seed)
        zone = ZoneInfo("Asia/Tehran")
        first = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=args.days
        )
        intervals = calls = 0
        started = time.perf_counter()
        for day in range(args.days):
            activity: list[tuple[Any, ...]] = []
            answered: list[tuple[Any, ...]] = []
            for n, user_id in enumerate(ids):
                shift = first + timedelta(days=day, hours=rng.choice((7, 8, 9, 14)))
                rows, took = agent_day(
                    rng, user_id, f"PJSIP/9{n:04d}", f"q{n % 10}", shift, args.calls_per_day
                )
                activity += rows
                for linkedid, at, up in took:
                    talk = (up - at).total_seconds()
                    answered.append(
                        (
                            "bench",
                            linkedid,
                            "inbound",
                            "answered",
                            at,
                            up,
                            up + timedelta(minutes=3),
                            user_id,
                            f"q{n % 10}",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            talk,
                            180.0,
                            0.0,
                            [],
                            "[]",
                            "[]",
                            "",
                            "",
                        )
                    )
            await raw.copy_records_to_table(
                "agent_activity", records=activity, columns=ACTIVITY_COLUMNS
            )
            await raw.copy_records_to_table("calls", records=answered, columns=CALL_COLUMNS)
            intervals += len(activity)
            calls += len(answered)
            print(
                f"  day {day + 1:>3}: {intervals:>12,} intervals {calls:>10,} calls "
                f"{time.perf_counter() - started:7.1f} s",
                flush=True,
            )
        await raw.execute("ANALYZE agent_activity")
        await raw.execute("ANALYZE calls")
    return ids, intervals, calls


async def clean(db: Database, ids: list[int]) -> None:
    async with db.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("DELETE FROM agent_activity WHERE pbx = 'bench'")
        await raw.execute("DELETE FROM calls WHERE pbx = 'bench'")
        await raw.execute("DELETE FROM users WHERE id = ANY($1::bigint[])", ids)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings, temp_dir = bench_settings(args.pgdata)
    db = Database(settings)
    await db.open()
    assert db.sessionmaker is not None
    ids: list[int] = []
    try:
        began = time.perf_counter()
        ids, intervals, calls = await seed(db, args)
        seeded = time.perf_counter() - began
        zone = ZoneInfo(settings.time_zone)
        end = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=args.days)
        rng = random.Random(args.seed + 1)
        samples: list[int] = []
        checked = 0
        async with db.sessionmaker() as session:
            service = ActivityService(session)
            for _ in range(3):  # warm-up
                await service.report(start, end, [rng.choice(ids)])
            for _ in range(args.samples):
                agent = rng.choice(ids)
                t0 = time.perf_counter_ns()
                report = await service.report(start, end, [agent])
                samples.append(time.perf_counter_ns() - t0)
                (row,) = report["agents"]
                # A shift a day: 8 h logged in each of the days.
                if abs(row["logged_in_seconds"] - args.days * 8 * 3600) > 1:
                    raise SystemExit(f"agent {agent}: {row['logged_in_seconds']} s logged in")
                checked += 1
            t0 = time.perf_counter_ns()
            team = await service.report(start, end)
            team_ns = time.perf_counter_ns() - t0
            day = end - timedelta(days=2)
            day_samples = []
            for _ in range(args.samples // 4 or 1):
                t0 = time.perf_counter_ns()
                await service.timeline(rng.choice(ids), day, day + timedelta(days=1))
                day_samples.append(time.perf_counter_ns() - t0)
        month = Stats.of(samples)
        timeline = Stats.of(day_samples)
        print(f"  seeded {intervals:,} intervals and {calls:,} calls in {seeded:.1f} s")
        print(Stats.header())
        print(month.row("per-agent month report"))
        print(timeline.row("one agent's day timeline"))
        print(f"  the team's month ({len(team['agents'])} agents): {team_ns / 1e6:.1f} ms")
        goal = month.p95 < 300.0
        print(f"  goal p95 < 300 ms: {'met' if goal else 'NOT met'}")
        return {
            "benchmark": "activity",
            "agents": args.agents,
            "days": args.days,
            "intervals": intervals,
            "calls": calls,
            "samples": len(samples),
            "checked": checked,
            **month.json("agent_month_"),
            **timeline.json("day_timeline_"),
            "team_month_ms": round(team_ns / 1e6, 1),
            "goal_p95_ms": 300,
            "goal_met": goal,
        }
    finally:
        if ids and not args.keep:
            await clean(db, ids)
        await db.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--calls-per-day", type=int, default=40)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--pgdata", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="leave the rows made here")
    p.add_argument("--loop", choices=("auto", "asyncio"), default="auto")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    run_and_print(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
