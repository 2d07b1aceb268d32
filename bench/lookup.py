"""Lookup by number at scale: seed N customers, then time ``CustomerService.lookup()`` (one
session and transaction per lookup, as a request or a screen-pop does it) against a bare
indexed ``SELECT`` on the same numbers.

    .venv/bin/python bench/lookup.py --customers 1000000

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise an
embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end). Its
customers table must be empty; the seeded rows are deleted at the end unless ``--keep``.
Human-readable figures first; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from common import (
    Driver,
    PreparedStatement,
    Stats,
    bench_settings,
    driver_of,
    messages_to_server,
    run_and_print,
)
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.customers.repository import CustomerRepository
from app.customers.service import CustomerService, LookupOutcome, sort_key_of
from app.db import Database, SessionMaker, async_url, create_sessionmaker, unit_of_work
from app.phones import try_parse_phone

# -- the data ----------------------------------------------------------------------------------

FIRST_NAMES = (
    "علی", "محمد", "حسین", "رضا", "مهدی", "امیر", "سعید", "حمید", "مجید", "آرش",
    "فاطمه", "زهرا", "مریم", "سارا", "نرگس", "لیلا", "پریسا", "نازنین", "یاسمن", "الهام",
)  # fmt: skip
LAST_NAMES = (
    "احمدی", "محمدی", "حسینی", "رضایی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "نوری",
    "تهرانی", "اصفهانی", "شیرازی", "قاسمی", "کاظمی", "هاشمی", "عباسی", "مرادی", "نجفی", "آقایی",
)  # fmt: skip
COMPANIES = (
    "پخش البرز", "بازرگانی پارس", "صنایع غذایی مهرام", "داروسازی سینا", "کاشی میلاد",
    "حمل‌ونقل آریا", "بیمه آسیا", "فولاد کویر", "نساجی یزدباف", "لوازم خانگی پارس‌خزر",
)  # fmt: skip
ADDRESSES = (
    "تهران، خیابان ولیعصر", "تهران، میدان ونک", "کرج، گوهردشت", "اصفهان، خیابان چهارباغ",
    "مشهد، بلوار وکیل‌آباد", "تبریز، خیابان امام", "شیراز، خیابان زند", "رشت، گلسار",
)  # fmt: skip
# Mobile prefixes (after +98); 932 and 994 are valid but never seeded (numbers nobody holds).
MOBILE_PREFIXES = (
    "912", "919", "935", "936", "901", "902", "903", "905", "910", "911", "913", "914", "915",
    "916", "917", "918", "920", "921", "922", "930", "933", "937", "938", "939", "990", "991",
)  # fmt: skip
# Landlines: city code + first digit of the 8-digit subscriber number, so that one city can
# appear more than once (Tehran is weighted) and every block still holds distinct numbers.
HOME_BLOCKS = (
    "213", "214", "215", "216", "217", "263", "265", "313", "315", "513", "516", "413", "713",
    "343", "443", "613", "113", "133",
)  # fmt: skip
# Shared office lines start with 8 (88xx xxxx in Tehran): never equal to a personal number.
OFFICE_BLOCKS = ("218", "268", "318", "518")
ABSENT_BLOCKS = ("932", "994", "173", "219")  # valid numbers no customer holds
# Caller IDs that are not numbers at all: they must match nobody, without an error.
NOT_NUMBERS = ("anonymous", "Unknown", "+", "ناشناس")

# Per customer, from a hash of its index r in [0, 100): 1 phone if r < 55, 2 if r < 85, else 3.
# Customers whose index ends in 00-02 share one office line (3 holders), 50-51 another (2):
# 2 shared numbers per 100 customers, about 1 % of the numbers. Shared holders have >= 2 phones.
PERM = "lpad(((({x}) * 7919 + 1234567) % 10000000)::text, 7, '0')"  # a bijection on 7 digits

SEED_CUSTOMERS = """
WITH s AS (
    SELECT g, hashint8(g)::bigint & 2147483647 AS h
    FROM generate_series($1::bigint, $2::bigint) AS g
)
INSERT INTO customers
    (id, kind, name, company, address, email, notes, tags, priority, external_id, sort_key)
SELECT
    $3::bigint + g,
    CASE WHEN h % 10 = 0 THEN 'organization' ELSE 'person' END,
    CASE WHEN h % 10 = 0 THEN ($6::text[])[1 + h / 10 % cardinality($6::text[])]
         ELSE ($4::text[])[1 + h / 10 % cardinality($4::text[])] END,
    CASE WHEN h % 10 = 0 OR h % 3 = 0 THEN ($6::text[])[1 + h / 10 % cardinality($6::text[])]
         ELSE '' END,
    ($8::text[])[1 + h / 7 % cardinality($8::text[])] || '، پلاک ' || (1 + h % 300),
    CASE WHEN h % 4 = 0 THEN 'customer' || ($3::bigint + g) || '@example.com' END,
    CASE WHEN h % 5 = 0 THEN 'تماس پس از ساعت ۱۰ صبح' ELSE '' END,
    CASE h % 20 WHEN 0 THEN ARRAY['vip'] WHEN 1 THEN ARRAY['wholesale', 'north']
                ELSE ARRAY[]::text[] END,
    CASE h % 7 WHEN 0 THEN 'A' WHEN 1 THEN 'B' WHEN 2 THEN 'VIP' END,
    CASE WHEN h % 2 = 0 THEN 'legacy-' || ($3::bigint + g) END,
    CASE WHEN h % 10 = 0 THEN ($7::text[])[1 + h / 10 % cardinality($7::text[])]
         ELSE ($5::text[])[1 + h / 10 % cardinality($5::text[])] END
FROM s
"""

SEED_PHONES = f"""
WITH c AS (
    SELECT g, (hashint8(g)::bigint & 2147483647) % 100 AS r, g % 100 IN (0, 1, 2, 50, 51) AS shared
    FROM generate_series($1::bigint, $2::bigint) AS g
), slots AS (
    SELECT c.g, c.shared, s.slot, c.g * 3 + s.slot AS k,
           (hashint8(c.g * 3 + s.slot)::bigint & 2147483647) % 100 AS r
    FROM c CROSS JOIN LATERAL generate_series(
        0, CASE WHEN c.r >= 85 THEN 2 WHEN c.r >= 55 OR c.shared THEN 1 ELSE 0 END
    ) AS s(slot)
), numbers AS (
    SELECT g, slot,
        CASE
            WHEN shared AND slot = 1 THEN 'office'
            WHEN r < CASE slot WHEN 0 THEN 90 WHEN 1 THEN 50 ELSE 30 END THEN 'mobile'
            WHEN slot = 0 THEN 'work'
            ELSE 'home'
        END AS label,
        CASE
            WHEN shared AND slot = 1 THEN '+98'
                || ($5::text[])[1 + (g / 100 * 2 + (g % 100 >= 50)::int) % cardinality($5::text[])]
                || {PERM.format(x="(g / 100 * 2 + (g % 100 >= 50)::int) / cardinality($5::text[])")}
            WHEN r < CASE slot WHEN 0 THEN 90 WHEN 1 THEN 50 ELSE 30 END THEN '+98'
                || ($3::text[])[1 + k % cardinality($3::text[])]
                || {PERM.format(x="k / cardinality($3::text[])")}
            ELSE '+98'
                || ($4::text[])[1 + k % cardinality($4::text[])]
                || {PERM.format(x="k / cardinality($4::text[])")}
        END AS e164
    FROM slots
)
INSERT INTO customer_phones (customer_id, e164, extension, raw, label)
SELECT
    $6::bigint + g,
    e164,
    '',
    CASE WHEN label = 'mobile'
         THEN '0' || substr(e164, 4, 3) || ' ' || substr(e164, 7, 3) || ' ' || substr(e164, 10)
         ELSE '0' || substr(e164, 4, 2) || '-' || substr(e164, 6) END,
    label
FROM numbers
ORDER BY g, slot
"""

BARE_LOOKUP = "SELECT customer_id FROM customer_phones WHERE e164 = $1"


# -- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    customers: int
    phones: int
    distinct_numbers: int
    shared_numbers: int
    first_id: int
    seconds: float


def _name_arrays() -> tuple[list[str], list[str]]:
    names = [f"{first} {last}" for first, last in product(FIRST_NAMES, LAST_NAMES)]
    return names, [sort_key_of(name) for name in names]


async def seed(db: Driver, customers: int, batch: int) -> Seeded:
    if await db.fetchval("SELECT EXISTS (SELECT 1 FROM customers)"):
        raise SystemExit(
            "the customers table is not empty: run the benchmark on an empty database "
            "(unset TAMAS_DATABASE_URL to use a temporary embedded one)"
        )
    # Ids after any the identity sequence has handed out; the sequence is moved past ours.
    base = int(await db.fetchval("SELECT nextval(pg_get_serial_sequence('customers', 'id'))"))
    names, name_keys = _name_arrays()
    companies = list(COMPANIES)
    company_keys = [sort_key_of(c) for c in companies]
    await db.execute("SET synchronous_commit = off")  # this session only; a crash loses a seed

    started = time.perf_counter()
    for lo in range(1, customers + 1, batch):
        hi = min(lo + batch - 1, customers)
        await db.execute(
            SEED_CUSTOMERS, lo, hi, base, names, name_keys, companies, company_keys,
            list(ADDRESSES),
        )  # fmt: skip
        await db.execute(
            SEED_PHONES, lo, hi, list(MOBILE_PREFIXES), list(HOME_BLOCKS), list(OFFICE_BLOCKS),
            base,
        )  # fmt: skip
        print(f"  seeded {hi:>12,} customers  {time.perf_counter() - started:7.1f} s", flush=True)
    # Explicit ids leave the identity sequence behind; the app's next insert must not collide.
    await db.execute(
        "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))"
    )
    loaded = time.perf_counter()
    # VACUUM as well as ANALYZE: sets hint bits and the visibility map now, so that neither
    # the first reads nor an autovacuum run land inside the measurement.
    await db.execute("VACUUM (ANALYZE) customers")
    await db.execute("VACUUM (ANALYZE) customer_phones")
    seconds = time.perf_counter() - started
    print(f"  vacuum + analyze {time.perf_counter() - loaded:7.1f} s")

    phones = int(await db.fetchval("SELECT count(*) FROM customer_phones"))
    distinct, shared = await db.fetchrow(
        "SELECT count(*), count(*) FILTER (WHERE holders > 1)"
        " FROM (SELECT count(*) AS holders FROM customer_phones GROUP BY e164) AS n"
    )
    return Seeded(customers, phones, int(distinct), int(shared), base + 1, seconds)


async def unseed(db: Driver, seeded: Seeded) -> None:
    last = seeded.first_id + seeded.customers - 1
    await db.execute("DELETE FROM customers WHERE id BETWEEN $1 AND $2", seeded.first_id, last)


# -- the queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    typed: str  # what the agent typed or the trunk sent
    e164: str | None  # what it must parse to (None: not a number)
    seeded: bool  # whether some customer holds it


def typed_forms(e164: str) -> list[str]:
    """The ways people type (or trunks send) one Iranian number."""
    national = "0" + e164[3:]
    if national.startswith("09"):
        spaced = f"{national[:4]} {national[4:7]} {national[7:]}"
        intl = f"+98 {national[1:4]} {national[4:7]} {national[7:]}"
    else:
        spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
        intl = f"+98 {national[1:3]} {national[3:7]} {national[7:]}"
    persian = national.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    return [e164, "00" + e164[1:], e164[1:], national, spaced, intl, persian, f"({spaced})"]


async def sample_numbers(db: Driver, rng: random.Random, count: int) -> list[str]:
    lo, hi = await db.fetchrow("SELECT min(id), max(id) FROM customer_phones")
    if hi - lo < 4 * count:  # a small table: every number, repeated if there are too few
        every = [row["e164"] for row in await db.fetch("SELECT e164 FROM customer_phones")]
        return rng.sample(every, count) if len(every) >= count else rng.choices(every, k=count)
    picked: dict[int, str] = {}
    while len(picked) < count:
        ids = [rng.randint(lo, hi) for _ in range(2 * (count - len(picked)))]
        for row in await db.fetch(
            "SELECT id, e164 FROM customer_phones WHERE id = ANY($1::bigint[])", ids
        ):
            picked.setdefault(row["id"], row["e164"])
    numbers = list(picked.values())[:count]
    rng.shuffle(numbers)
    return numbers


def build_queries(rng: random.Random, numbers: Sequence[str], count: int) -> list[Query]:
    """``count`` queries: mostly seeded numbers, 2 % valid numbers nobody holds and a few
    caller IDs that are not numbers, in random order and random typed forms."""
    absent = max(1, count // 50)
    junk = max(1, count // 200)
    queries = [
        Query(rng.choice(typed_forms(e164)), e164, True)
        for e164 in numbers[: count - absent - junk]
    ]
    for _ in range(absent):
        e164 = f"+98{rng.choice(ABSENT_BLOCKS)}{rng.randrange(10**7):07d}"
        queries.append(Query(rng.choice(typed_forms(e164)), e164, False))
    queries += [Query(rng.choice(NOT_NUMBERS), None, False) for _ in range(junk)]
    rng.shuffle(queries)
    return queries


# -- measuring ---------------------------------------------------------------------------------


COLUMNS = ("p50", "p99", "mean", "max")  # the figures of a latency row


def row(stats: Stats, label: str) -> str:
    return stats.row(label, 38, columns=COLUMNS, decimals=3)


@dataclass
class Checks:
    lookup_misses: int = 0  # seeded numbers that lookup() did not find
    bare_misses: int = 0  # seeded numbers the bare SELECT did not find
    wrong_parse: int = 0  # typed forms that parsed to another number (or none)
    wrong_holders: int = 0  # lookup() and the bare SELECT disagree on who holds a number
    false_hits: int = 0  # numbers nobody holds (or non-numbers) that matched someone
    shared_seen: int = 0  # seeded numbers with more than one holder


def check(q: Query, outcome: LookupOutcome, bare_ids: list[int] | None, checks: Checks) -> None:
    """Count what went wrong for one query (``bare_ids``: None when it is not a number)."""
    got = outcome.parsed.e164 if outcome.parsed is not None else None
    if got != q.e164:
        checks.wrong_parse += 1
    ids = sorted(c.id for c in outcome.customers)
    if not q.seeded:
        checks.false_hits += bool(ids) + bool(bare_ids)
        return
    checks.lookup_misses += not ids
    checks.bare_misses += not bare_ids
    checks.shared_seen += len(ids) > 1
    holds = all(any(p.e164 == q.e164 for p in c.phones) for c in outcome.customers)
    checks.wrong_holders += not holds or ids != sorted(bare_ids or [])


async def service_lookup(
    sessions: SessionMaker, settings: Settings, typed: str
) -> tuple[int, LookupOutcome]:
    """What a request does: its own session and transaction, committed at the end."""
    started = time.perf_counter_ns()
    async with unit_of_work(sessions) as session:
        outcome = await CustomerService(session, settings).lookup(typed)
    return time.perf_counter_ns() - started, outcome


async def bare_lookup(statement: PreparedStatement, e164: str) -> tuple[int, list[int]]:
    started = time.perf_counter_ns()
    rows = await statement.fetch(e164)
    return time.perf_counter_ns() - started, [row["customer_id"] for row in rows]


@dataclass
class Results:
    service: Stats
    bare: Stats
    parse: Stats
    repo: Stats
    ping: Stats
    no_ping: Stats
    checks: Checks


async def measure(
    db: Database, settings: Settings, warmup: Sequence[Query], queries: Sequence[Query]
) -> tuple[Stats, Stats, Checks]:
    """Each query through lookup() and through the bare SELECT, alternating which goes first
    so that neither always finds the pages the other just read. The warm-up fills the pool,
    the statement caches and phonenumbers' metadata."""
    assert db.engine is not None and db.sessionmaker is not None
    checks = Checks()
    service_ns: list[int] = []
    bare_ns: list[int] = []
    async with db.engine.connect() as conn:
        statement = await (await driver_of(conn)).prepare(BARE_LOOKUP)
        for i, q in enumerate([*warmup, *queries]):
            b_ns, ids = 0, None
            if i % 2 and q.e164 is not None:
                b_ns, ids = await bare_lookup(statement, q.e164)
            try_parse_phone.cache_clear()  # every measured lookup parses its number
            s_ns, outcome = await service_lookup(db.sessionmaker, settings, q.typed)
            if not i % 2 and q.e164 is not None:
                b_ns, ids = await bare_lookup(statement, q.e164)
            if i < len(warmup):
                continue
            service_ns.append(s_ns)
            if ids is not None:
                bare_ns.append(b_ns)
            check(q, outcome, ids, checks)
    return Stats.of(service_ns), Stats.of(bare_ns), checks


async def breakdown(
    db: Database, settings: Settings, warmup: Sequence[Query], queries: Sequence[Query]
) -> tuple[Stats, Stats, Stats, Stats]:
    """Where lookup()'s time goes: parsing alone; the repository query alone, in one session
    held open (no pool checkout, BEGIN or COMMIT); and lookup() on the service's engine
    against an engine with SQLAlchemy's pre-ping (what the service used to run), alternating
    between the two."""
    assert db.sessionmaker is not None
    parse_ns = []
    parse = try_parse_phone.__wrapped__  # the parsing itself, not the service's memo of it
    for q in queries:
        started = time.perf_counter_ns()
        parse(q.typed, settings.default_region, default_area_code=settings.default_area_code)
        parse_ns.append(time.perf_counter_ns() - started)

    repo_ns = []
    async with db.sessionmaker() as session:
        repo = CustomerRepository(session)
        for q in queries:
            if q.e164 is not None:
                started = time.perf_counter_ns()
                await repo.by_number(q.e164)
                repo_ns.append(time.perf_counter_ns() - started)
                session.expunge_all()

    ping_ns: list[int] = []
    no_ping_ns: list[int] = []
    engine = create_async_engine(
        async_url(db.url), pool_size=settings.db_pool_size, pool_pre_ping=True
    )
    try:
        both = [(create_sessionmaker(engine), ping_ns), (db.sessionmaker, no_ping_ns)]
        for i, q in enumerate([*warmup, *queries]):
            try_parse_phone.cache_clear()  # each pass parses, as the measured one did
            for sessions, samples in both if i % 2 else both[::-1]:
                ns, _ = await service_lookup(sessions, settings, q.typed)
                if i >= len(warmup):
                    samples.append(ns)
    finally:
        await engine.dispose()
    return Stats.of(parse_ns), Stats.of(repo_ns), Stats.of(ping_ns), Stats.of(no_ping_ns)


async def explain_lookup(db: Database, settings: Settings, e164: str) -> list[str]:
    """What one lookup() sends to the server, every message counted at asyncpg (SQLAlchemy's
    statements, its BEGIN and COMMIT, a pre-ping, and what goes to asyncpg directly), and the
    plan of the number lookup."""
    assert db.engine is not None and db.sessionmaker is not None
    # Warm: a connection new to the pool reads the types' codecs once (and the first lookup
    # of a run may open one).
    for _ in range(settings.db_pool_size * 2):
        await service_lookup(db.sessionmaker, settings, e164)
    with messages_to_server() as sent:
        try_parse_phone.cache_clear()
        await service_lookup(db.sessionmaker, settings, e164)
    lines = [f"  messages to the server per lookup(): {len(sent)}"]
    lines += ["    " + " ".join(stmt.split())[:150] for stmt, _ in sent]
    lookup = next((stmt for stmt, _ in sent if "customer_phones.e164" in stmt), None)
    if lookup is not None:
        async with db.engine.connect() as conn:
            driver = await driver_of(conn)
            plan = await driver.fetch(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + lookup, e164
            )
        lines += ["    | " + row[0] for row in plan]
    return lines


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--queries", type=int, default=5000, metavar="Q")
    parser.add_argument("--warmup", type=int, default=300, metavar="W")
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--batch", type=int, default=250_000, help="customers per INSERT")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the queries")
    parser.add_argument("--keep", action="store_true", help="keep the seeded rows")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    args = parser.parse_args(argv)
    if args.customers < 1 or args.queries < 100 or args.batch < 1 or args.warmup < 0:
        parser.error("--customers and --batch must be >= 1, --queries >= 100, --warmup >= 0")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings, temp_dir = bench_settings(args.pgdata)
    db = Database(settings)
    seeded: Seeded | None = None
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.engine is not None
        async with db.engine.connect() as conn:
            driver = await driver_of(conn)
            version = await driver.fetchval("SHOW server_version")
            print(f"PostgreSQL {version}; seeding {args.customers:,} customers ...", flush=True)
            seeded = await seed(driver, args.customers, args.batch)
            size = await driver.fetchval("SELECT pg_database_size(current_database())")
            database_mb = round(size / 2**20)
            rng = random.Random(args.seed)
            numbers = await sample_numbers(driver, rng, args.warmup + args.queries)
        print(
            f"seeded {seeded.customers:,} customers, {seeded.phones:,} phones "
            f"({seeded.distinct_numbers:,} numbers, {seeded.shared_numbers:,} shared) "
            f"in {seeded.seconds:.1f} s; database {database_mb:,} MB",
            flush=True,
        )
        warmup = build_queries(rng, numbers[: args.warmup], args.warmup) if args.warmup else []
        queries = build_queries(rng, numbers[args.warmup :], args.queries)
        for line in await explain_lookup(db, settings, numbers[-1]):
            print(line)
        # The machine may be shared: a busy one shows in the tail latencies.
        load = os.getloadavg()[0]
        print(
            f"measuring {len(queries):,} lookups after {len(warmup):,} warm-up"
            f" (load average {load:.2f}) ...",
            flush=True,
        )
        service, bare, checks = await measure(db, settings, warmup, queries)
        print("measuring where lookup() spends its time ...", flush=True)
        parse, repo, ping, no_ping = await breakdown(db, settings, warmup, queries)
        results = Results(service, bare, parse, repo, ping, no_ping, checks)
        if not args.keep and temp_dir is None:
            async with db.engine.connect() as conn:
                await unseed(await driver_of(conn), seeded)
    finally:
        await db.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    report(results)
    c = results.checks
    return {
        "customers": seeded.customers,
        "phones": seeded.phones,
        "shared_numbers": seeded.shared_numbers,
        "queries": results.service.n,
        "seed_seconds": round(seeded.seconds, 1),
        "database_mb": database_mb,
        "lookup_p50_ms": round(results.service.p50, 3),
        "lookup_p99_ms": round(results.service.p99, 3),
        "lookup_mean_ms": round(results.service.mean, 3),
        "lookup_max_ms": round(results.service.max, 3),
        "bare_p50_ms": round(results.bare.p50, 3),
        "bare_p99_ms": round(results.bare.p99, 3),
        "bare_mean_ms": round(results.bare.mean, 3),
        "bare_max_ms": round(results.bare.max, 3),
        "parse_p50_ms": round(results.parse.p50, 3),
        "repo_p50_ms": round(results.repo.p50, 3),
        "lookup_preping_on_p50_ms": round(results.ping.p50, 3),
        "lookup_preping_off_p50_ms": round(results.no_ping.p50, 3),
        "lookup_misses": c.lookup_misses,
        "bare_misses": c.bare_misses,
        "wrong_parse": c.wrong_parse,
        "wrong_holders": c.wrong_holders,
        "false_hits": c.false_hits,
        "shared_numbers_queried": c.shared_seen,
        "load_average": round(load, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "postgres": version,
        "python": sys.version.split()[0],
    }


def report(results: Results) -> None:
    print("\n" + Stats.header("latency in ms", 38, columns=COLUMNS))
    print(row(results.service, "CustomerService.lookup()"))
    print(row(results.bare, "bare SELECT (asyncpg, prepared)"))
    print("  where lookup() spends its time:")
    print(row(results.parse, "  parsing the typed number"))
    print(row(results.repo, "  repo.by_number() in a held session"))
    print(row(results.ping, "  lookup(), SQLAlchemy pre-ping (A/B)"))
    print(row(results.no_ping, "  lookup(), as the service runs (A/B)"))
    c = results.checks
    print(
        f"\n  checks: {c.lookup_misses} lookup misses, {c.bare_misses} bare misses, "
        f"{c.wrong_parse} wrong parses, {c.wrong_holders} holder mismatches, "
        f"{c.false_hits} false hits; {c.shared_seen} shared numbers looked up"
    )


def main() -> None:
    args = parse_args()
    run_and_print(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
