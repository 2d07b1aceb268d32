"""The call history and the KPI report at scale: seed N calls (two years of a call center's
traffic), then time ``GET /api/history`` on the filters supervisors and agents use and
``GET /api/reports/kpi`` on one month, over HTTP against Tamas served by uvicorn.

    .venv/bin/python bench/history.py --calls 5000000

Goals (issue 8): history p95 under 100 ms, a month's report under 1 s.

The data: 50 agents (desk phones 1001-1050) in 5 queues (12 agents each, overlapping) and a
supervisor; N/10 customers with their numbers (bench/lookup.py's); N calls over the 730 days
before today, more on weekdays than on Fridays and Thursdays, growing over the two years,
shaped by the hour of the day (a peak at 10 and another at 15). 72 % inbound (5 % of them
straight to a DID, the rest through a queue: answered, abandoned, missed, busy; 6 % of the
answered ones transferred to another queue), 20 % outbound, 8 % internal; 75 % of the
external numbers held by a customer (a few customers call often), linked in call_customers;
every call's legs (the trunk, every phone that rang, the transfer's target); dispositions on
60 % of answered calls, recordings (rows only) on 70 %, a note on 5 %, a tracking code on 6 %
of the answered inbound ones.

Each query kind is asked ``--samples`` times with different values (weeks, agents, numbers
typed in different ways, codes, ...), kinds interleaved, after a warm-up round; one request at
a time on a keep-alive connection, as a supervisor's browser asks. Every answer is checked
against its filter. ``--explain`` prints the plan of one query of each kind.

Tamas runs as the service runs (``uvicorn app.main:create_app --factory``, environment
production, no PBX). The database is the one the service would use: ``TAMAS_DATABASE_URL``
when set, otherwise an embedded PostgreSQL in ``--pgdata`` (default: a temporary directory
removed at the end). Its calls table must be empty, or hold exactly what an earlier run with
the same ``--calls`` kept (``--keep``): then seeding is skipped. Human-readable figures first;
the last line printed is one JSON object.

The seeding is bench/history_seed.py's; it and bench/common.py are imported as the script's
neighbours: run it as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from common import Driver, KeepAlive, Stats, driver_of, loop_factory, start_tamas, tamas_env
from history_seed import (
    AGENT_PREFIX,
    BOSS,
    DAYS,
    DISPOSITIONS,
    PASSWORD,
    QUEUES,
    TZ,
    Seeded,
    describe,
    seed,
    unseed,
)
from lookup import typed_forms

from app.config import Settings
from app.db import Database

# -- the queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    who: str  # "boss" or an agent's username
    path: str
    check: Callable[[dict[str, Any]], str | None]  # None when an item fits the filter
    pages: int = 1  # > 1: follow next_cursor this many pages, timing the last


def _eq(key: str, value: Any) -> Callable[[dict[str, Any]], str | None]:
    return lambda item: None if item[key] == value else f"{key} {item[key]!r} != {value!r}"


def _between(start: datetime, end: datetime) -> Callable[[dict[str, Any]], str | None]:
    def check(item: dict[str, Any]) -> str | None:
        at = datetime.fromisoformat(item["started_at"])
        return None if start <= at < end else f"started_at {at} outside the range"

    return check


def _all(*checks: Callable[[dict[str, Any]], str | None]) -> Callable[[dict[str, Any]], str | None]:
    def check(item: dict[str, Any]) -> str | None:
        return next((e for c in checks if (e := c(item)) is not None), None)

    return check


def _any(_: dict[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class Material:
    """What the queries are built from: values that exist in the seeded data."""

    agents: list[tuple[str, int]]  # username, id
    numbers: list[str]  # e164s of customers that called
    codes: list[str]
    first_day: date
    last_day: date


async def material(db: Driver, seeded: Seeded, rng: random.Random, count: int) -> Material:
    agents = [
        (r["username"], r["id"])
        for r in await db.fetch(
            "SELECT username, id FROM users WHERE username LIKE $1 ORDER BY id",
            AGENT_PREFIX + "%",
        )
    ]
    numbers = [
        r["customer_e164"]
        for r in await db.fetch(
            "SELECT customer_e164 FROM calls TABLESAMPLE SYSTEM (1) REPEATABLE (7)"
            " WHERE customer_e164 IS NOT NULL LIMIT $1",
            4 * count,
        )
    ]
    codes = [
        r["code"]
        for r in await db.fetch(
            "SELECT code FROM tracking_codes TABLESAMPLE SYSTEM (5) REPEATABLE (7) LIMIT $1",
            4 * count,
        )
    ]
    if not codes:
        codes = [r["code"] for r in await db.fetch("SELECT code FROM tracking_codes LIMIT 50")]
    rng.shuffle(numbers)
    rng.shuffle(codes)
    last = seeded.first_day + timedelta(days=DAYS - 1)
    return Material(agents, numbers, codes, seeded.first_day, last)


def q(params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    return "/api/history?" + urlencode(params, doseq=True) if params else "/api/history"


def build_queries(rng: random.Random, m: Material, samples: int) -> list[Query]:
    zone = ZoneInfo(TZ)
    out: list[Query] = []

    def day_range(days: int) -> tuple[str, str, datetime, datetime]:
        first = m.first_day + timedelta(days=rng.randrange(DAYS - days))
        last = first + timedelta(days=days - 1)
        lo = datetime.combine(first, dtime.min, tzinfo=zone)
        hi = datetime.combine(last + timedelta(days=1), dtime.min, tzinfo=zone)
        return first.isoformat(), last.isoformat(), lo, hi

    for n in range(samples):
        username, agent_id = m.agents[rng.randrange(len(m.agents))]
        out.append(Query("newest page", "boss", q({}), _any))
        f, t, lo, hi = day_range(7)
        out.append(Query("a week", "boss", q({"from": f, "to": t}), _between(lo, hi)))
        f, t, lo, hi = day_range(30)
        out.append(Query("a month", "boss", q({"from": f, "to": t}), _between(lo, hi)))
        out.append(
            Query("by agent", "boss", q({"agent": agent_id}), _eq("answered_by_user_id", agent_id))
        )
        queue = rng.choice(QUEUES)
        outcome = rng.choice(("abandoned", "missed", "answered"))
        out.append(
            Query(
                "queue + outcome",
                "boss",
                q({"queue": queue, "outcome": outcome}),
                _all(_eq("queue", queue), _eq("outcome", outcome)),
            )
        )
        e164 = m.numbers[n % len(m.numbers)]
        typed = rng.choice(typed_forms(e164))
        out.append(Query("by number", "boss", q({"number": typed}), _eq("customer_e164", e164)))
        code = m.codes[n % len(m.codes)]
        shown = rng.choice((code, f"{code[:4]}-{code[4:]}", code.translate(PERSIAN_DIGITS)))
        out.append(Query("by tracking code", "boss", q({"tracking_code": shown}), _any))
        disposition = rng.choice(DISPOSITIONS)
        out.append(
            Query(
                "recorded + disposition",
                "boss",
                q({"has_recording": "true", "disposition": disposition}),
                _all(_eq("disposition", disposition), _recorded),
            )
        )
        lo_talk = rng.choice((60, 300, 600, 1200))
        out.append(
            Query(
                "talk duration range",
                "boss",
                q({"min_talk": lo_talk, "max_talk": 2 * lo_talk}),
                _talk(lo_talk, 2 * lo_talk),
            )
        )
        deep = rng.choice(({}, {"direction": "inbound"}, {"queue": rng.choice(QUEUES)}))
        out.append(Query("page 51 (cursor)", "boss", q(deep), _any, pages=51))
        out.append(Query("agent: own, newest", username, q({}), _any))
        f, t, lo, hi = day_range(30)
        out.append(
            Query("agent: own, a month", username, q({"from": f, "to": t}), _between(lo, hi))
        )
        out.append(
            Query(
                "agent: own, answered",
                username,
                q({"outcome": "answered"}),
                _eq("outcome", "answered"),
            )
        )
    rng.shuffle(out)
    return out


PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _recorded(item: dict[str, Any]) -> str | None:
    return None if item["recordings"] else "no recording"


def _talk(lo: float, hi: float) -> Callable[[dict[str, Any]], str | None]:
    return lambda item: None if lo <= item["talk_seconds"] <= hi else "talk outside the range"


@dataclass(frozen=True)
class Report:
    by: str
    path: str


def build_reports(rng: random.Random, m: Material, samples: int) -> list[Report]:
    """One month (the first to the last day of a calendar month, any of the two years)."""
    months: list[date] = []
    day = date(m.first_day.year, m.first_day.month, 1)
    while day <= m.last_day:
        if day >= m.first_day and (day + timedelta(days=31)).replace(day=1) <= m.last_day:
            months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    out = []
    for _ in range(samples):
        first = rng.choice(months)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        for by in ("queue", "agent", "day", "hour"):
            params = {"from": first.isoformat(), "to": last.isoformat(), "by": by}
            out.append(Report(by, "/api/reports/kpi?" + urlencode(params)))
    rng.shuffle(out)
    return out


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Checks:
    wrong: Counter[str] = field(default_factory=Counter)  # kind -> items not fitting the filter
    empty: Counter[str] = field(default_factory=Counter)  # kind -> answers with no items
    errors: Counter[str] = field(default_factory=Counter)  # kind -> non-200 answers
    examples: list[str] = field(default_factory=list)


async def sign_in(client: KeepAlive, username: str) -> dict[str, str]:
    status, body, _ = await client.request(
        "POST", "/api/auth/token", body={"username": username, "password": PASSWORD}
    )
    if status != 200:
        raise RuntimeError(f"sign-in of {username}: {status} {body[:200]!r}")
    return {"Authorization": f"Bearer {json.loads(body)['access_token']}"}


async def ask(
    client: KeepAlive, query: Query, headers: dict[str, str], checks: Checks | None
) -> int:
    """Nanoseconds the query's (last) page took."""
    path = query.path
    took = 0
    for page in range(query.pages):
        status, body, took = await client.request("GET", path, headers=headers)
        if status != 200:
            if checks is not None:
                checks.errors[query.kind] += 1
                checks.examples.append(f"{query.kind}: {status} {body[:200]!r}")
            return took
        answer = json.loads(body)
        if checks is not None and page == query.pages - 1:
            if not answer["items"]:
                checks.empty[query.kind] += 1
            for item in answer["items"]:
                if (problem := query.check(item)) is not None:
                    checks.wrong[query.kind] += 1
                    checks.examples.append(f"{query.kind} {query.path}: {problem}")
                    break
        cursor = answer.get("next_cursor")
        if cursor is None:
            break
        sep = "&" if "?" in query.path else "?"
        path = f"{query.path}{sep}cursor={cursor}"
    return took


@dataclass
class Measured:
    history: dict[str, list[int]]
    reports: dict[str, list[int]]
    checks: Checks
    report_rows: dict[str, int]


async def measure(
    port: int, queries: Sequence[Query], reports: Sequence[Report], warmup: int
) -> Measured:
    client = KeepAlive(port)
    headers: dict[str, dict[str, str]] = {"boss": await sign_in(client, BOSS)}
    for who in sorted({q.who for q in queries} - {"boss"}):
        headers[who] = await sign_in(client, who)
    # A warm-up round: the first answers also pay for Python's imports and the pool's
    # connections, not only the database's cold pages.
    seen: Counter[str] = Counter()
    for query in queries:
        if seen[query.kind] < warmup:
            seen[query.kind] += 1
            await ask(client, query, headers[query.who], None)
    for report in reports[: warmup * 4]:
        await client.request("GET", report.path, headers=headers["boss"])
    checks = Checks()
    history: dict[str, list[int]] = defaultdict(list)
    started = time.perf_counter()
    for i, query in enumerate(queries):
        history[query.kind].append(await ask(client, query, headers[query.who], checks))
        if (i + 1) % 100 == 0:
            print(
                f"  {i + 1:>5,} / {len(queries):,} history queries"
                f"  {time.perf_counter() - started:6.1f} s",
                flush=True,
            )
    timed: dict[str, list[int]] = defaultdict(list)
    rows: dict[str, int] = {}
    for report in reports:
        status, body, took = await client.request("GET", report.path, headers=headers["boss"])
        kind = f"report by {report.by}"
        if status != 200:
            checks.errors[kind] += 1
            checks.examples.append(f"{kind}: {status} {body[:200]!r}")
            continue
        answer = json.loads(body)
        rows[kind] = len(answer["rows"])
        if not answer["rows"]:
            checks.empty[kind] += 1
        timed[kind].append(took)
    await client.close()
    return Measured(dict(history), dict(timed), checks, rows)


# -- plans -------------------------------------------------------------------------------------


async def explain(db: Database, seeded: Seeded, m: Material) -> list[str]:
    """EXPLAIN ANALYZE of the history's SQL for one query of each kind (built by the
    repository itself, from the filters the endpoint would build)."""
    from sqlalchemy.dialects import postgresql

    from app.history.filters import HistoryFilter, number_filter
    from app.history.repository import history_query

    zone = ZoneInfo(TZ)
    month = datetime.combine(m.last_day - timedelta(days=60), dtime.min, tzinfo=zone)
    raw, e164 = number_filter(typed_forms(m.numbers[0])[3], "IR")
    agent = m.agents[3][1]
    filters = {
        "newest page": HistoryFilter(),
        "a month": HistoryFilter(start=month, end=month + timedelta(days=30)),
        "by agent": HistoryFilter(agent_id=agent),
        "queue + outcome": HistoryFilter(queue="vip", outcomes=("abandoned",)),
        "by number": HistoryFilter(number=raw, e164=e164),
        "by tracking code": HistoryFilter(tracking_code=m.codes[0]),
        "recorded + disposition": HistoryFilter(has_recording=True, disposition="complaint"),
        "talk duration range": HistoryFilter(min_talk=1200, max_talk=2400),
        "agent: own, newest": HistoryFilter(only_user_id=agent),
        "agent: own, answered": HistoryFilter(only_user_id=agent, outcomes=("answered",)),
    }
    lines: list[str] = []
    assert db.engine is not None
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    async with db.engine.connect() as conn:
        driver = await driver_of(conn)
        for kind, f in filters.items():
            stmt = history_query(f).limit(51)
            compiled = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            sql = str(compiled)
            await driver.fetch(sql)
            plan = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            lines.append(f"  plan: {kind}")
            lines += ["    | " + row[0] for row in plan]
    return lines


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000_000, metavar="N")
    parser.add_argument("--samples", type=int, default=40, help="queries of each kind timed")
    parser.add_argument("--report-samples", type=int, default=8, help="months of each report")
    parser.add_argument("--warmup", type=int, default=3, help="queries of each kind first")
    parser.add_argument("--batch", type=int, default=250_000, help="calls per INSERT")
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for codes and queries")
    parser.add_argument("--keep", action="store_true", help="keep the seeded rows for next time")
    parser.add_argument("--explain", action="store_true", help="print the queries' plans")
    parser.add_argument(
        "--app",
        default="app.main:create_app",
        metavar="MODULE:FACTORY",
        help="the app factory uvicorn serves",
    )
    args = parser.parse_args(argv)
    if args.calls < 1000 or args.samples < 2 or args.batch < 1 or args.report_samples < 1:
        parser.error("--calls >= 1000, --samples >= 2, --report-samples and --batch >= 1")
    return args


def overall(groups: dict[str, list[int]]) -> Stats:
    return Stats.of([s for samples in groups.values() for s in samples])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="tamas-bench-history-"))
    settings = Settings()
    pgdata: Path | None = None
    if settings.database_url is None:
        pgdata = args.pgdata or temp / "pgdata"
        settings = Settings(pgdata=pgdata)
    db = Database(settings)
    rng = random.Random(args.seed)
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.engine is not None
        async with db.engine.connect() as conn:
            driver = await driver_of(conn)
            version = await driver.fetchval("SHOW server_version")
            print(f"PostgreSQL {version}; seeding {args.calls:,} calls ...", flush=True)
            seeded = await seed(driver, args.calls, args.batch, rng)
            await describe(driver, seeded)
            m = await material(driver, seeded, rng, args.samples)
        c = seeded.counts
        print(
            f"{c['calls']:,} calls, {c['call_legs']:,} legs, {c['call_customers']:,} links to"
            f" {c['customers']:,} customers, {c['recordings']:,} recordings, {c['call_notes']:,}"
            f" notes, {c['tracking_codes']:,} tracking codes; database {c['database_mb']:,} MB"
            + ("" if seeded.reused else f"; seeded in {seeded.seconds:.1f} s"),
            flush=True,
        )
        if args.explain:
            for line in await explain(db, seeded, m):
                print(line)
        queries = build_queries(rng, m, args.samples)
        reports = build_reports(rng, m, args.report_samples)
        tamas = await start_tamas(
            tamas_env(db.url, temp / "tamas", TAMAS_TIME_ZONE=TZ, TAMAS_DEFAULT_REGION="IR"),
            temp / "tamas.log",
            factory=args.app,
        )
        try:
            load = os.getloadavg()[0]
            print(
                f"Tamas on port {tamas.port}; {len(queries):,} history queries and"
                f" {len(reports)} reports (load average {load:.2f}) ...",
                flush=True,
            )
            measured = await measure(tamas.port, queries, reports, args.warmup)
        finally:
            await tamas.stop()
        problems = [
            line
            for line in tamas.tail(100_000).splitlines()
            if "ERROR" in line or "Traceback" in line
        ]
        if not args.keep and (args.pgdata is not None or settings.database_url is not None):
            async with db.engine.connect() as conn:
                await unseed(await driver_of(conn), seeded)
    finally:
        await db.close()
        shutil.rmtree(temp, ignore_errors=True)
    return report(args, seeded, measured, version, load, problems)


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    m: Measured,
    version: str,
    load: float,
    problems: list[str],
) -> dict[str, Any]:
    print("\n" + Stats.header())
    by_kind = {k: Stats.of(v) for k, v in m.history.items()}
    for kind, stats in sorted(by_kind.items()):
        print(stats.row(kind))
    history = overall(m.history)
    print(history.row("history, all kinds"))
    reports = {k: Stats.of(v) for k, v in m.reports.items()}
    for kind, stats in sorted(reports.items()):
        print(stats.row(f"{kind} ({m.report_rows.get(kind, 0)} rows)"))
    slowest = max(reports.items(), key=lambda kv: kv[1].max)
    worst_kind = max(by_kind.items(), key=lambda kv: kv[1].p95)
    c = m.checks
    print(
        f"\n  checks: {sum(c.wrong.values())} answers with items not fitting their filter"
        f" {dict(c.wrong) or ''}, {sum(c.errors.values())} errors {dict(c.errors) or ''},"
        f" empty answers {dict(c.empty) or 'none'}"
    )
    for example in c.examples[:5]:
        print("   ", example)
    if problems:
        print(f"  Tamas logged {len(problems)} errors, e.g. {problems[0][:200]}")
    print(
        f"  goals: history p95 {history.p95:.1f} ms"
        f" (< 100: {'met' if history.p95 < 100 else 'MISSED'};"
        f" slowest kind {worst_kind[0]} p95 {worst_kind[1].p95:.1f} ms), month report"
        f" {slowest[1].max:.0f} ms at worst ({slowest[0]}; < 1000:"
        f" {'met' if slowest[1].max < 1000 else 'MISSED'})"
    )
    figures: dict[str, Any] = {
        "calls": seeded.calls,
        **{k: v for k, v in seeded.counts.items() if k != "calls"},
        "seed_seconds": round(seeded.seconds, 1),
        "seed_reused": seeded.reused,
        "samples_per_kind": args.samples,
        **history.json("history_"),
        "history_worst_kind": worst_kind[0],
        "history_worst_kind_p95_ms": round(worst_kind[1].p95, 3),
        "history_kinds": {
            k: {"p50_ms": round(s.p50, 2), "p95_ms": round(s.p95, 2), "p99_ms": round(s.p99, 2)}
            for k, s in sorted(by_kind.items())
        },
        # The slowest single month's report of the four groupings (queue, agent, day, hour).
        "report_month_ms": round(slowest[1].max, 1),
        "report_month_slowest": slowest[0],
        "report_kinds": {
            k: {"p50_ms": round(s.p50, 1), "p95_ms": round(s.p95, 1), "max_ms": round(s.max, 1)}
            for k, s in sorted(reports.items())
        },
        "wrong": sum(c.wrong.values()),
        "errors": sum(c.errors.values()),
        "empty": dict(c.empty),
        "tamas_errors": len(problems),
        "load_average": round(load, 2),
        "postgres": version,
        "python": sys.version.split()[0],
        "peak_rss_bench_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return figures


def main() -> None:
    args = parse_args()
    factory = loop_factory("auto")
    with asyncio.Runner(loop_factory=factory) as runner:
        figures = runner.run(run(args))
    figures["event_loop"] = "asyncio" if factory is None else "uvloop"
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
