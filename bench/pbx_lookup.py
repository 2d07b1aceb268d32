"""The PBX's caller lookup over HTTP (``GET /pbx/lookup``, as the dialplan's CURL() asks it
while a call waits) at a steady rate, with 1,000,000 customers in the database.

    .venv/bin/python bench/pbx_lookup.py --customers 1000000 --rate 200 --seconds 30

Tamas runs as the service runs, in a process of its own: ``uvicorn app.main:create_app
--factory`` (uvloop, httptools; log level info, access log on and proxy headers, as
``tamas serve``; ``--no-access-log`` to leave the log out, ``--app`` to serve a changed
factory), environment ``production``, its settings from the environment, one PBX with a
token (its AMI address leads nowhere: the listener retries in the background, as it does
while a PBX is down). This process seeds the database (the
customers and numbers of ``bench/lookup.py``, plus assigned agents with desk phones and
support contracts, so that each lookup does its whole work), then sends the lookups from a
client of its own on raw asyncio sockets: HTTP/1.1 with keep-alive, the request curl sends,
``format=hash``, the token in ``Authorization``. Requests leave on a fixed schedule
(``--rate`` a second, open loop: a slow answer does not delay the next request; a second
connection is opened when every open one is busy). The clock runs from just before a
request is written to when its whole answer has been read.

Also measured, to say where the time goes: the same client against a bare asyncio server
answering at once (the client's and loopback's own share); the same lookups with a new
connection each, as a CURL() from a new call's thread makes them; each lookup through
``PbxLookupService.caller()`` in this process, on the engine, as the
endpoint does it (the server-side figure, without HTTP); and the plan of the lookup query.
Every HTTP answer is compared with the in-process answer for the same number, and the
latency of each second of the run is printed (p50/max), so that stalls show.

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise
an embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end).
The customers table must be empty, or hold exactly what an earlier run seeded and kept
(``--keep`` with ``--pgdata DIR`` or ``TAMAS_DATABASE_URL``): then seeding is skipped.
Human-readable figures first; the last line printed is one JSON object.

The seeding and the query sampling are bench/lookup.py's, and the /proc readers
bench/pop_latency.py's, imported as the script's neighbours: run it as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote

from common import (
    BadAnswer,
    Child,
    Driver,
    driver_of,
    free_port,
    loop_factory,
    messages_to_server,
    read_answer,
    start_tamas,
)
from common import tamas_env as common_env
from lookup import ABSENT_BLOCKS, NOT_NUMBERS, sample_numbers, seed
from pop_latency import cpu_seconds, postgres_pids, rss_bytes

from app.config import Settings
from app.db import Database, unit_of_work
from app.pbx.service import _LOOKUP, PbxLookupService
from app.phones import try_parse_phone
from app.security import new_token

PBX = "bench-lookup"
AGENT_PREFIX = "bench-pbx-agent-"
AGENTS = 120
FIRST_EXTENSION = 3001
DID = "02191001000"
IDLE_SECONDS = 5.0  # Tamas's CPU at rest is measured this long before the lookups
TIMEOUT = 2.0  # seconds: what the dialplan samples give CURL() before the call goes on

# -- the data: agents, assigned customers and support contracts ---------------------------------

SEED_AGENTS = """
WITH added AS (
    INSERT INTO users (username, full_name, role, password_hash, is_active)
    SELECT $1 || (g + 1), 'کارشناس ' || (g + 1), 'agent', '!', true
    FROM generate_series(0, $2 - 1) AS g
    RETURNING id
)
SELECT array_agg(id ORDER BY id) FROM added
"""

# Every agent a desk phone; every fifth a softphone too (added later: the desk stays first).
SEED_DEVICES = """
INSERT INTO user_devices (user_id, device)
SELECT id, 'PJSIP/' || ($2 + i - 1) FROM unnest($1::bigint[]) WITH ORDINALITY AS a(id, i)
UNION ALL
SELECT id, 'SIP/soft' || ($2 + i - 1) FROM unnest($1::bigint[]) WITH ORDINALITY AS a(id, i)
WHERE i % 5 = 0
"""

# 40 % of the customers have an assigned agent.
SEED_OWNERS = """
UPDATE customers
SET owner_id = ($3::bigint[])[
    1 + (hashint8(id * 31)::bigint & 2147483647) % cardinality($3::bigint[])
]
WHERE id BETWEEN $1 AND $2 AND (hashint8(id * 17)::bigint & 2147483647) % 100 < 40
"""

# Per customer, r in [0, 100): < 25 a running contract, 25-31 one ending within 30 days,
# 32-44 one that ended, 45-49 an ended one renewed by a running one (two rows), else none.
SEED_CONTRACTS = """
WITH c AS (
    SELECT id, (hashint8(id * 13)::bigint & 2147483647) AS h
    FROM generate_series($1::bigint, $2::bigint) AS id
), k AS (
    SELECT id, h, h % 100 AS r, (ARRAY['gold', 'silver', 'bronze'])[1 + h / 100 % 3] AS level
    FROM c WHERE h % 100 < 50
), spans AS (
    SELECT id, level,
        CASE WHEN r < 25 THEN current_date + (31 + h / 7 % 700)::int
             WHEN r < 32 THEN current_date + (h / 7 % 30)::int
             ELSE current_date - (1 + h / 7 % 700)::int END AS ends_on
    FROM k
    UNION ALL
    SELECT id, level, current_date + (31 + h / 11 % 330)::int FROM k WHERE r >= 45
)
INSERT INTO contracts (customer_id, level, starts_on, ends_on, notes)
SELECT id, level, ends_on - 364, ends_on, '' FROM spans ORDER BY id
"""


@dataclass(frozen=True)
class Seeded:
    customers: int
    first_id: int
    phones: int
    shared_numbers: int
    owned: int
    contracts: int
    seconds: float  # 0 when an earlier run's data was reused
    reused: bool


async def seed_all(db: Driver, customers: int, batch: int) -> Seeded:
    """The customers and numbers of bench/lookup.py, then agents, owners and contracts; or
    what an earlier run kept, when the database holds exactly that."""
    have = int(await db.fetchval("SELECT count(*) FROM customers"))
    agents = int(
        await db.fetchval("SELECT count(*) FROM users WHERE username LIKE $1", AGENT_PREFIX + "%")
    )
    if have:
        if have != customers or agents != AGENTS:
            raise SystemExit(
                f"the database holds {have:,} customers and {agents} of this benchmark's agents;"
                f" it must be empty, or hold what an earlier run with --customers {customers}"
                " kept (--keep)"
            )
        first = int(await db.fetchval("SELECT min(id) FROM customers"))
        print(f"  reusing the {have:,} customers an earlier run seeded", flush=True)
        return await _describe(db, customers, first, 0.0, reused=True)

    base = await seed(db, customers, batch)  # prints its progress; VACUUMs the two tables
    started = time.perf_counter()
    ids = await db.fetchval(SEED_AGENTS, AGENT_PREFIX, AGENTS)
    await db.execute(SEED_DEVICES, ids, FIRST_EXTENSION)
    last = base.first_id + customers - 1
    await db.execute("SET synchronous_commit = off")
    for lo in range(base.first_id, last + 1, batch):
        hi = min(lo + batch - 1, last)
        await db.execute(SEED_OWNERS, lo, hi, ids)
        await db.execute(SEED_CONTRACTS, lo, hi)
        print(f"  owners and contracts {hi - base.first_id + 1:>12,}", flush=True)
    for table in ("customers", "contracts", "users", "user_devices"):
        await db.execute(f"VACUUM (ANALYZE) {table}")
    seconds = base.seconds + time.perf_counter() - started
    return await _describe(db, customers, base.first_id, seconds, reused=False)


async def _describe(
    db: Driver, customers: int, first: int, seconds: float, *, reused: bool
) -> Seeded:
    phones = int(await db.fetchval("SELECT count(*) FROM customer_phones"))
    shared = int(
        await db.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM customer_phones GROUP BY e164"
            " HAVING count(*) > 1) AS s"
        )
    )
    owned = int(await db.fetchval("SELECT count(*) FROM customers WHERE owner_id IS NOT NULL"))
    contracts = int(await db.fetchval("SELECT count(*) FROM contracts"))
    return Seeded(customers, first, phones, shared, owned, contracts, seconds, reused)


async def unseed(db: Driver, seeded: Seeded) -> None:
    last = seeded.first_id + seeded.customers - 1
    await db.execute("DELETE FROM customers WHERE id BETWEEN $1 AND $2", seeded.first_id, last)
    await db.execute("DELETE FROM users WHERE username LIKE $1", AGENT_PREFIX + "%")


# -- the numbers looked up ----------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    kind: str  # known | shared | absent | junk
    number: str  # the caller id as the trunk sends it
    e164: str  # what it must be found as ("" for junk)


def caller_id_forms(e164: str) -> list[tuple[str, int]]:
    """How Iranian trunks deliver a caller id, with weights: mostly national (0912...),
    then +98..., 98... (some SIP trunks), a few 0098...."""
    return [("0" + e164[3:], 50), (e164, 25), (e164[1:], 20), ("00" + e164[1:], 5)]


def typed(rng: random.Random, e164: str) -> str:
    forms = caller_id_forms(e164)
    return rng.choices([f for f, _ in forms], [w for _, w in forms])[0]


async def shared_numbers(db: Driver, count: int) -> list[str]:
    rows = await db.fetch(
        "SELECT DISTINCT e164 FROM customer_phones TABLESAMPLE SYSTEM (5) REPEATABLE (1)"
        " WHERE label = 'office' LIMIT $1",
        count,
    )
    return [row["e164"] for row in rows]


def build_lookups(
    rng: random.Random, known: Sequence[str], shared: Sequence[str], count: int
) -> list[Lookup]:
    """``count`` lookups: 2 % office lines shared by several customers, 6 % valid numbers
    nobody holds, 1 % caller ids that are not numbers, the rest random seeded numbers; in
    random order, each in a caller-id form drawn by weight."""
    n_shared, n_absent, n_junk = max(1, count // 50), max(1, count * 6 // 100), max(1, count // 100)
    out = [Lookup("known", typed(rng, e), e) for e in known[: count - n_shared - n_absent - n_junk]]
    out += [Lookup("shared", typed(rng, e), e) for e in rng.choices(shared, k=n_shared)]
    for _ in range(n_absent):
        e164 = f"+98{rng.choice(ABSENT_BLOCKS)}{rng.randrange(10**7):07d}"
        out.append(Lookup("absent", typed(rng, e164), e164))
    out += [Lookup("junk", rng.choice(NOT_NUMBERS), "") for _ in range(n_junk)]
    rng.shuffle(out)
    return out


def request_bytes(lookup: Lookup, port: int, token: str) -> bytes:
    """The request curl 7/8 sends for ``CURL(http://.../pbx/lookup?...)`` with the token in
    ``CURLOPT(httpheader)``."""
    path = f"/pbx/lookup?number={quote(lookup.number, safe='')}&did={DID}&format=hash"
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: asterisk-libcurl-agent/1.0\r\nAccept: */*\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()


def parse_hash(body: bytes) -> dict[str, str]:
    """What ``HASH()`` would hold after ``CURLOPT(hashcompat)=yes``."""
    pairs = (piece.partition("=") for piece in body.decode().split("&"))
    return {unquote(k): unquote(v) for k, _, v in pairs}


# -- the servers --------------------------------------------------------------------------------


class _Null(asyncio.Protocol):
    """Answers every request (one per read: the client sends one at a time) with a fixed
    lookup answer, at once: what is left is the client's and loopback's own time."""

    answer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.transport.write(self.answer)


def serve_null(port: int, body: bytes) -> None:
    """The child: the bare server on ``port``; it stops when its stdin closes."""
    _Null.answer = (
        b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"\r\n%s" % (len(body), body)
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Null, "127.0.0.1", port)
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.buffer.read)
        server.close()

    factory = loop_factory("auto")
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


async def start_null(body: bytes, log: Path) -> Child:
    port = free_port()
    out = log.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-null", str(port), body.decode(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=out,
    )  # fmt: skip
    out.close()
    child = Child(process, port, log)
    assert process.stdout is not None
    if (await asyncio.wait_for(process.stdout.readline(), 30.0)).strip() != b"ready":
        await child.stop()
        raise RuntimeError(f"the bare server did not start:\n{child.tail()}")
    return child


# -- the client ---------------------------------------------------------------------------------


@dataclass
class Sample:
    index: int
    latency_ns: int  # request written -> whole answer read (0: failed)
    late_ns: int  # how late the request left against its schedule
    status: int
    body: bytes
    error: str = ""


@dataclass
class Driven:
    samples: list[Sample]
    seconds: float  # first request scheduled -> last answer
    connections: int  # opened in all
    retried: int  # requests sent again: the server had closed their kept-alive connection
    client_cpu_s: float


class Client:
    """HTTP/1.1 over a pool of keep-alive connections (or a new one per request)."""

    def __init__(self, port: int, *, fresh: bool) -> None:
        self.port = port
        self.fresh = fresh
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.retried = 0

    async def _connection(self) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], bool]:
        """A connection, and whether it was used before."""
        while self.idle and not self.fresh:
            reader, writer = self.idle.pop()
            if not reader.at_eof():  # uvicorn closes connections idle for 5 s
                return (reader, writer), True
            writer.close()
        self.opened += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as curl sets it
        return (reader, writer), False

    async def prepare(self, count: int) -> None:
        if not self.fresh:
            self.idle += [(await self._connection())[0] for _ in range(count)]

    async def one(self, index: int, request: bytes, due_ns: int) -> Sample:
        started = time.perf_counter_ns()
        late = started - due_ns
        for attempt in (1, 2):
            conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
            reused = False
            try:
                conn, reused = await self._connection()
                conn[1].write(request)
                status, body, keep = await asyncio.wait_for(read_answer(conn[0]), TIMEOUT)
                elapsed = time.perf_counter_ns() - started
                break
            except (OSError, TimeoutError, asyncio.IncompleteReadError, BadAnswer, ValueError) as e:
                if conn is not None:
                    conn[1].close()
                # A kept-alive connection the server closed as the request left: curl, too,
                # sends it again on a new one.
                if attempt == 1 and reused and isinstance(e, asyncio.IncompleteReadError):
                    self.retried += 1
                    continue
                return Sample(index, 0, late, 0, b"", type(e).__name__)
        assert conn is not None
        if keep and not self.fresh:
            self.idle.append(conn)
        else:
            conn[1].close()
        return Sample(index, elapsed, late, status, body)

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(client: Client, requests: Sequence[bytes], rate: float) -> Driven:
    """Each request at its time (``rate`` a second), none waiting for another's answer."""
    cpu = own_cpu()
    step = 1e9 / rate
    start = time.perf_counter_ns() + 50_000_000
    tasks: list[asyncio.Task[Sample]] = []
    for i, request in enumerate(requests):
        due = start + int(i * step)
        wait = (due - time.perf_counter_ns()) / 1e9
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(client.one(i, request, due)))
    samples = list(await asyncio.gather(*tasks))
    seconds = (time.perf_counter_ns() - start) / 1e9
    return Driven(samples, seconds, client.opened, client.retried, own_cpu() - cpu)


# -- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        ms = [s / 1e6 for s in samples_ns] or [0.0, 0.0]
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(len(samples_ns), cuts[49], cuts[94], cuts[98], statistics.fmean(ms), max(ms))

    def row(self, label: str) -> str:
        figures = (
            f"{self.p50:8.3f} {self.p95:8.3f} {self.p99:8.3f} {self.mean:8.3f} {self.max:8.2f}"
        )
        return f"  {label:<46} {figures} {self.n:>7,}"

    def json(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}p50_ms": round(self.p50, 3),
            f"{prefix}p95_ms": round(self.p95, 3),
            f"{prefix}p99_ms": round(self.p99, 3),
            f"{prefix}max_ms": round(self.max, 3),
        }


@dataclass
class Checks:
    """HTTP answers against what they must say and against the in-process answers."""

    wrong: Counter[str] = field(default_factory=Counter)  # kind -> answers that were wrong
    differ: int = 0  # HTTP answer != PbxLookupService.caller() in this process
    found: Counter[str] = field(default_factory=Counter)
    vip: int = 0
    with_agent: int = 0
    contract: Counter[str] = field(default_factory=Counter)

    def check(self, lookup: Lookup, answer: dict[str, str], expected: dict[str, str]) -> None:
        if answer != expected:
            self.differ += 1
        found = answer.get("found") == "1"
        ok = {
            "known": found and answer.get("e164") == lookup.e164,
            "shared": found and int(answer.get("holders") or 0) >= 2,
            "absent": not found and answer.get("e164") == lookup.e164,
            "junk": not found,
        }[lookup.kind]
        self.wrong[lookup.kind] += not ok
        if found:
            self.found[lookup.kind] += 1
            self.vip += answer.get("vip") == "1"
            self.with_agent += bool(answer.get("agent_extension"))
            self.contract[answer.get("contract", "?")] += 1


# -- in this process: the service alone, and the plan -------------------------------------------


async def in_process(
    db: Database, settings: Settings, lookups: Sequence[Lookup]
) -> tuple[Stats, list[dict[str, str]]]:
    """Each lookup as the endpoint does it, without HTTP: ``PbxLookupService.caller()`` on
    the engine (no session). The answers, for comparing with HTTP's."""
    assert db.engine is not None
    today = datetime.now(UTC).date()
    samples: list[int] = []
    answers: list[dict[str, str]] = []
    for lookup in lookups:
        started = time.perf_counter_ns()
        info = await PbxLookupService(db.engine, settings).caller(lookup.number, today)
        samples.append(time.perf_counter_ns() - started)
        answers.append(dict(info.pairs()))
    return Stats.of(samples), answers


async def explain(db: Database, settings: Settings, number: str) -> list[str]:
    """The statements one lookup sends, and the plan of the lookup query."""
    assert db.engine is not None and db.sessionmaker is not None
    today = datetime.now(UTC).date()
    for _ in range(settings.db_pool_size * 2):  # new connections read the codecs once
        async with unit_of_work(db.sessionmaker) as session:
            await PbxLookupService(session, settings).caller(number, today)
    with messages_to_server() as sent:
        async with unit_of_work(db.sessionmaker) as session:
            await PbxLookupService(session, settings).caller(number, today)
    lines = [f"  messages to the server per lookup: {len(sent)}"]
    lines += ["    " + " ".join(q.split())[:150] for q, _ in sent]
    parsed = try_parse_phone(number, settings.default_region)
    if parsed is not None:
        # The plan of the lookup with this number written in (the statement takes several
        # parameters besides the number).
        statement = _LOOKUP.statement.params(e164=parsed.e164)
        sql = str(
            statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        )
        async with db.engine.connect() as conn:
            driver = await driver_of(conn)
            await driver.fetch(sql)  # once, so the plan is a warm one
            plan = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines += ["    | " + row[0] for row in plan]
    return lines


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--rate", type=float, default=200.0, metavar="R", help="lookups a second")
    parser.add_argument("--seconds", type=float, default=30.0, metavar="S", help="measured")
    parser.add_argument("--warmup", type=float, default=3.0, metavar="W", help="seconds at R")
    parser.add_argument(
        "--fresh-seconds",
        type=float,
        default=10.0,
        help="seconds of lookups with a new connection each (0: skip)",
    )
    parser.add_argument(
        "--floor-seconds",
        type=float,
        default=5.0,
        help="seconds against the bare server, for the client's own share (0: skip)",
    )
    parser.add_argument("--connections", type=int, default=4, help="keep-alive pool to start")
    parser.add_argument(
        "--no-access-log", action="store_true", help="run uvicorn without its access log"
    )
    parser.add_argument(
        "--app",
        default="app.main:create_app",
        metavar="MODULE:FACTORY",
        help="the app factory uvicorn serves (to try a change to Tamas without editing it)",
    )
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--batch", type=int, default=250_000, help="customers per INSERT")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the lookups")
    parser.add_argument("--keep", action="store_true", help="keep the seeded rows for next time")
    parser.add_argument("--serve-null", nargs=2, metavar=("PORT", "BODY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_null:
        return args
    if args.customers < 1 or args.rate <= 0 or args.seconds <= 0 or args.connections < 1:
        parser.error("--customers, --rate, --seconds and --connections must be positive")
    return args


def tamas_env(db: Database, temp: Path, token: str) -> dict[str, str]:
    # The PBX's AMI port is one nothing listens on: the listener keeps retrying with backoff,
    # as it does while a PBX is down; the lookups do not need it.
    pbx = {
        "id": PBX,
        "host": "127.0.0.1",
        "port": free_port(),
        "username": "bench",
        "secret": "bench-secret",
        "token": token,
    }
    return common_env(
        db.url, temp / "tamas", TAMAS_DEFAULT_REGION="IR", TAMAS_PBXES=json.dumps([pbx])
    )


def by_second(driven: Driven, rate: float) -> str:
    """p50/max latency (ms) for each second of requests, by when they were due: whether a
    tail is spread or comes from a few stalls."""
    seconds: dict[int, list[int]] = {}
    for s in driven.samples:
        seconds.setdefault(int(s.index / rate), []).append(s.latency_ns or int(TIMEOUT * 1e9))
    return " ".join(
        f"{k}s {statistics.median(v) / 1e6:.1f}/{max(v) / 1e6:.0f}"
        for k, v in sorted(seconds.items())
    )


@dataclass
class Phase:
    stats: Stats
    errors: Counter[str]
    rate: float  # achieved: answers a second
    late_p99_ms: float
    connections: int
    retried: int
    client_cpu_us: float  # this process's CPU a request


def phase(driven: Driven) -> Phase:
    ok = [s for s in driven.samples if s.latency_ns and s.status == 200]
    errors = Counter(
        s.error or f"http {s.status}"
        for s in driven.samples
        if not (s.latency_ns and s.status == 200)
    )
    late = Stats.of([max(0, s.late_ns) for s in driven.samples])
    return Phase(
        Stats.of([s.latency_ns for s in ok]),
        errors,
        len(driven.samples) / driven.seconds,
        late.p99,
        driven.connections,
        driven.retried,
        1e6 * driven.client_cpu_s / max(1, len(driven.samples)),
    )


async def measure(
    args: argparse.Namespace, db: Database, settings: Settings, pgdata: Path | None, temp: Path
) -> dict[str, Any]:
    assert db.engine is not None
    async with db.engine.connect() as conn:
        driver = await driver_of(conn)
        version = await driver.fetchval("SHOW server_version")
        print(f"PostgreSQL {version}; seeding {args.customers:,} customers ...", flush=True)
        seeded = await seed_all(driver, args.customers, args.batch)
        database_mb = round(
            await driver.fetchval("SELECT pg_database_size(current_database())") / 2**20
        )
        rng = random.Random(args.seed)
        warm_n = round(args.rate * args.warmup)
        main_n = round(args.rate * args.seconds)
        fresh_n = round(args.rate * args.fresh_seconds)
        total = warm_n + main_n + fresh_n
        known = await sample_numbers(driver, rng, total)
        shared = await shared_numbers(driver, 500)
    print(
        f"{seeded.customers:,} customers, {seeded.phones:,} numbers ({seeded.shared_numbers:,}"
        f" shared), {seeded.owned:,} with an assigned agent, {seeded.contracts:,} contracts;"
        f" database {database_mb:,} MB"
        + ("" if seeded.reused else f"; seeded in {seeded.seconds:.1f} s"),
        flush=True,
    )
    lookups = build_lookups(rng, known, shared, total)
    for line in await explain(db, settings, "0" + known[0][3:]):
        print(line)

    token = new_token()
    tamas = await start_tamas(
        tamas_env(db, temp, token),
        temp / "tamas.log",
        access_log=not args.no_access_log,
        factory=args.app,
    )
    try:
        port = tamas.port
        requests = [request_bytes(lookup, port, token) for lookup in lookups]
        warm, main, fresh = (
            requests[:warm_n],
            requests[warm_n : warm_n + main_n],
            requests[warm_n + main_n :],
        )
        idle_before = cpu_seconds([tamas.process.pid])
        await asyncio.sleep(IDLE_SECONDS)
        idle_pct = 100 * (cpu_seconds([tamas.process.pid]) - idle_before) / IDLE_SECONDS
        print(
            f"Tamas on port {port} (pid {tamas.process.pid}), {idle_pct:.1f} % of a core idle;"
            " warming up ...",
            flush=True,
        )
        client = Client(port, fresh=False)
        await client.prepare(args.connections)
        warm_driven = await drive(client, warm, args.rate)
        await asyncio.sleep(1.0)
        load = os.getloadavg()[0]
        print(
            f"measuring {len(main):,} lookups at {args.rate:g}/s, keep-alive"
            f" (load average {load:.2f}) ...",
            flush=True,
        )
        pg_pids = postgres_pids(pgdata)
        cpu_before = cpu_seconds([tamas.process.pid]), cpu_seconds(pg_pids)
        started = time.perf_counter()
        main_driven = await drive(client, main, args.rate)
        window = time.perf_counter() - started
        cpu_tamas = cpu_seconds([tamas.process.pid]) - cpu_before[0]
        cpu_pg = cpu_seconds(postgres_pids(pgdata)) - cpu_before[1] if pg_pids else None
        rss_tamas = rss_bytes(tamas.process.pid)
        await client.close()
        fresh_driven = None
        if fresh:
            print(f"measuring {len(fresh):,} lookups with a new connection each ...", flush=True)
            fresh_driven = await drive(Client(port, fresh=True), fresh, args.rate)
    finally:
        await tamas.stop()
    tamas_log = tamas.tail(10_000).splitlines()
    problems = [line for line in tamas_log if "WARNING" in line or "ERROR" in line]

    floor = None
    if args.floor_seconds > 0:
        body = next((s.body for s in main_driven.samples if s.body), b"found=0")
        null = await start_null(body, temp / "null.log")
        try:
            print(f"the client against a bare server for {args.floor_seconds:g} s ...", flush=True)
            null_client = Client(null.port, fresh=False)
            await null_client.prepare(args.connections)
            null_requests = [request_bytes(lk, null.port, token) for lk in lookups]
            n = round(args.rate * args.floor_seconds)
            await drive(null_client, null_requests[:warm_n], args.rate)
            floor = phase(await drive(null_client, null_requests[warm_n : warm_n + n], args.rate))
            await null_client.close()
        finally:
            await null.stop()

    print("the same lookups in this process (the service alone) ...", flush=True)
    await in_process(db, settings, lookups[:warm_n])
    server, expected = await in_process(db, settings, lookups[warm_n : warm_n + main_n])

    checks = Checks()
    for sample, lookup, want in zip(
        main_driven.samples, lookups[warm_n : warm_n + main_n], expected, strict=True
    ):
        if sample.status == 200:
            checks.check(lookup, parse_hash(sample.body), want)

    print("  p50/max ms by second:", by_second(main_driven, args.rate))
    main_phase = phase(main_driven)
    warm_phase = phase(warm_driven)
    fresh_phase = phase(fresh_driven) if fresh_driven else None
    return report(
        args, seeded, database_mb, version, load, main_phase, warm_phase, fresh_phase, floor,
        server, checks, cpu_tamas, cpu_pg, window, rss_tamas, problems, idle_pct,
    )  # fmt: skip


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    database_mb: int,
    version: str,
    load: float,
    main: Phase,
    warm: Phase,
    fresh: Phase | None,
    floor: Phase | None,
    server: Stats,
    checks: Checks,
    cpu_tamas: float,
    cpu_pg: float | None,
    window: float,
    rss_tamas: int,
    problems: list[str],
    idle_pct: float,
) -> dict[str, Any]:
    print(
        f"\n  {'latency in ms':<46} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8} {'max':>8}"
        f" {'n':>7}"
    )
    print(main.stats.row("HTTP lookup, keep-alive"))
    if fresh:
        print(fresh.stats.row("HTTP lookup, a new connection each"))
    print(server.row("PbxLookupService.caller() in-process"))
    if floor:
        print(floor.stats.row("the client against a bare server"))
    errors = sum(main.errors.values())
    print(
        f"\n  {main.stats.n:,} answered, {errors} errors {dict(main.errors) or ''};"
        f" offered {args.rate:g}/s, sent {main.rate:.1f}/s; client late by"
        f" {main.late_p99_ms:.2f} ms at p99; {main.connections} connections,"
        f" {main.retried} requests sent again on a new one"
    )
    pg = "n/a" if cpu_pg is None else f"{cpu_pg:.2f} s ({100 * cpu_pg / window:.1f} %)"
    print(
        f"  CPU over the {window:.1f} s: Tamas {cpu_tamas:.2f} s ({100 * cpu_tamas / window:.1f} %"
        f" of a core, {1e6 * cpu_tamas / max(1, main.stats.n):.0f} us a lookup), PostgreSQL {pg},"
        f" this client {main.client_cpu_us:.0f} us a lookup; Tamas RSS {rss_tamas / 2**20:.0f} MB;"
        f" Tamas at rest {idle_pct:.1f} %"
    )
    print(
        f"  checks: {dict(checks.wrong)} wrong by kind, {checks.differ} HTTP answers unlike the"
        f" in-process ones; found {dict(checks.found)}, {checks.vip} VIP, {checks.with_agent} with"
        f" an agent, contracts {dict(checks.contract)}"
    )
    if problems:
        print(f"  Tamas logged {len(problems)} warnings/errors, e.g. {problems[0][:200]}")
    figures: dict[str, Any] = {
        "customers": seeded.customers,
        "phones": seeded.phones,
        "shared_numbers": seeded.shared_numbers,
        "owned_customers": seeded.owned,
        "contracts": seeded.contracts,
        "seed_seconds": round(seeded.seconds, 1),
        "seed_reused": seeded.reused,
        "database_mb": database_mb,
        "rate": args.rate,
        "seconds": args.seconds,
        "requests": main.stats.n + errors,
        "errors": errors,
        "rate_achieved": round(main.rate, 1),
        "client_late_p99_ms": round(main.late_p99_ms, 3),
        **main.stats.json(""),
        "mean_ms": round(main.stats.mean, 3),
        "warmup_p99_ms": round(warm.stats.p99, 3),
        **server.json("server_"),
        "cpu_tamas_s": round(cpu_tamas, 2),
        "cpu_tamas_pct": round(100 * cpu_tamas / window, 1),
        "cpu_tamas_us_per_lookup": round(1e6 * cpu_tamas / max(1, main.stats.n)),
        "idle_cpu_tamas_pct": round(idle_pct, 1),
        "cpu_postgres_s": None if cpu_pg is None else round(cpu_pg, 2),
        "client_cpu_us_per_lookup": round(main.client_cpu_us),
        "rss_tamas_mb": round(rss_tamas / 2**20, 1),
        "access_log": not args.no_access_log,
        "app": args.app,
        "wrong": sum(checks.wrong.values()),
        "differ_from_in_process": checks.differ,
        "found": sum(checks.found.values()),
        "vip": checks.vip,
        "with_agent": checks.with_agent,
        "contracts_seen": dict(checks.contract),
        "tamas_warnings": len(problems),
        "load_average": round(load, 2),
        "postgres": version,
        "python": sys.version.split()[0],
    }
    if fresh:
        figures |= fresh.stats.json("fresh_") | {"fresh_errors": sum(fresh.errors.values())}
    if floor:
        figures |= floor.stats.json("client_floor_")
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="tamas-bench-pbx-"))
    # The region the service is given (TAMAS_DEFAULT_REGION), for the in-process lookups.
    settings = Settings(default_region="IR")
    pgdata: Path | None = None
    if settings.database_url is None:
        pgdata = args.pgdata or temp / "pgdata"
        settings = Settings(pgdata=pgdata, default_region="IR")
    db = Database(settings)
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        figures = await measure(args, db, settings, pgdata, temp)
        if not args.keep and (args.pgdata is not None or settings.database_url is not None):
            assert db.engine is not None
            async with db.engine.connect() as conn:
                driver = await driver_of(conn)
                first = await driver.fetchval("SELECT min(id) FROM customers")
                await unseed(driver, Seeded(args.customers, first, 0, 0, 0, 0, 0.0, False))
    finally:
        await db.close()
        shutil.rmtree(temp, ignore_errors=True)
    figures["peak_rss_bench_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return figures


def main() -> None:
    args = parse_args()
    if args.serve_null:
        serve_null(int(args.serve_null[0]), args.serve_null[1].encode())
        return
    factory = loop_factory("auto")
    with asyncio.Runner(loop_factory=factory) as runner:
        figures = runner.run(run(args))
    figures["event_loop"] = "asyncio" if factory is None else "uvloop"
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
