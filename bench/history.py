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
from lookup import seed as seed_customers
from lookup import typed_forms
from stdnum import damm

from app.config import Settings
from app.db import Database
from app.security import hash_password

TZ = "Asia/Tehran"
DAYS = 730
PBX = "bench-history"
AGENT_PREFIX = "bench-h-agent-"
BOSS = "bench-h-boss"
PASSWORD = "bench-history-password"
AGENTS = 50
FIRST_EXTENSION = 1001
QUEUES = ("support", "sales", "billing", "technical", "vip")
QUEUE_SHARES = (0, 35, 60, 80, 92)  # cumulative %: 35, 25, 20, 12, 8
DISPOSITIONS = (
    "support", "sale", "info", "billing", "complaint", "follow_up", "wrong_number", "cancel",
)  # fmt: skip
NOTES = (
    "مشتری درخواست تماس مجدد دارد",
    "فاکتور برای مشتری ایمیل شد",
    "مشکل با راه‌اندازی مجدد دستگاه حل شد",
    "شکایت از تأخیر در ارسال؛ به واحد پخش ارجاع شد",
    "قیمت‌ها اعلام شد، مشتری فردا تماس می‌گیرد",
)
# Calls by hour of the day (Tehran): a morning peak at 10, a dip at lunch, another at 15.
HOUR_WEIGHTS = (
    1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 8, 12, 13, 12, 10, 8, 10, 11, 10, 8, 6, 4, 3, 2, 1.5, 1,
)  # fmt: skip
# Calls by weekday (Monday = 0): Iran's weekend is Friday, and Thursday is half a day.
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 0.7, 0.25, 1.05, 1.1)

# -- seeding -----------------------------------------------------------------------------------

SEED_USERS = """
WITH added AS (
    INSERT INTO users (username, full_name, role, password_hash, is_active)
    SELECT $1 || g, 'کارشناس ' || g, 'agent', $3, true FROM generate_series(1, $2) AS g
    ORDER BY g
    RETURNING id
)
SELECT array_agg(id ORDER BY id) FROM added
"""

# Calls ``$1`` to ``$2`` (ids ``$3 + i``). Each call's draws come from hashes of its index, so
# a call is the same whichever batch makes it. Days in order of the index (by $4, the first
# index of each day); the hour by the day's shape ($6, cumulative per mille).
SEED_CALLS = """
WITH g AS (
    SELECT i,
        hashint8(i)::bigint & 2147483647 AS h1,
        hashint8(i + 1000000007)::bigint & 2147483647 AS h2,
        hashint8(i + 2000000014)::bigint & 2147483647 AS h3,
        hashint8(i + 3000000021)::bigint & 2147483647 AS h4,
        hashint8(i + 4000000028)::bigint & 2147483647 AS h5
    FROM generate_series($1::bigint, $2::bigint) AS i
), a AS (
    SELECT i, h1, h2, h3, h4, h5,
        $5::timestamptz
            + make_interval(days => width_bucket(i, $4::bigint[]) - 1,
                            hours => width_bucket(h2 % 1000, $6::int[]) - 1,
                            secs => h2 / 1000 % 3600) AS started_at,
        CASE WHEN h1 % 100 < 72 THEN 'inbound' WHEN h1 % 100 < 92 THEN 'outbound'
             ELSE 'internal' END AS direction,
        width_bucket(h1 / 100 % 100, $9::int[]) AS qi,
        h1 / 10000 % 100 < 5 AS direct,
        h3 % 1000 AS r,
        (h4 % 1000 + 0.5) / 1000.0 AS u1,
        (h5 % 1000 + 0.5) / 1000.0 AS u2,
        (h4 / 1000 % 1000 + 0.5) / 1000.0 AS u3,
        h5 / 1000 % 100 < 75 AS known,
        1 + floor($8::bigint * power((h5 / 100000 % 10000 + 0.5) / 10000.0, 3))::bigint AS k
    FROM g
), b AS (
    SELECT a.*,
        CASE WHEN direction = 'inbound' AND NOT direct THEN ($7::text[])[qi] ELSE '' END AS queue,
        CASE direction
            WHEN 'inbound' THEN CASE WHEN r < 820 THEN 'answered' WHEN r < 930 THEN 'abandoned'
                                     WHEN r < 985 THEN 'missed' ELSE 'busy' END
            WHEN 'outbound' THEN CASE WHEN r < 650 THEN 'answered' WHEN r < 900 THEN 'no_answer'
                                      WHEN r < 980 THEN 'busy' ELSE 'failed' END
            ELSE CASE WHEN r < 800 THEN 'answered' WHEN r < 950 THEN 'no_answer'
                      ELSE 'busy' END
        END AS outcome,
        -- the agent: of the queue's 12 (overlapping), or any for other calls
        CASE WHEN direction = 'inbound' AND NOT direct
             THEN ((qi - 1) * 10 + h3 / 1000 % 12) % $10 ELSE h3 / 1000 % $10 END AS agent,
        (h3 / 1000 % $10 + 1 + h3 / 100000 % ($10 - 1)) % $10 AS other,
        CASE WHEN known THEN n.e164
             ELSE '+98932' || lpad((h5 % 10000000)::text, 7, '0') END AS e164
    FROM a LEFT JOIN bench_numbers n ON n.k = a.k AND a.known
), c AS (
    SELECT b.*,
        CASE WHEN direction = 'inbound' AND NOT direct THEN started_at + interval '4 s' END
            AS queue_joined_at,
        CASE
            WHEN direction <> 'inbound' THEN 4 + u1 * 20
            WHEN outcome = 'answered' THEN least(600, -ln(u1) * (6 + 3 * qi))
            WHEN outcome = 'abandoned' THEN least(900, -ln(u1) * 35)
            WHEN outcome = 'missed' THEN 60 + u1 * 60
            ELSE 0
        END AS wait,
        CASE WHEN outcome <> 'answered' THEN 0
             WHEN direction = 'internal' THEN 5 - ln(u2) * 60
             WHEN direction = 'outbound' THEN 10 - ln(u2) * 120
             ELSE 15 - ln(u2) * 170 END AS talk,
        CASE WHEN outcome = 'answered' AND u3 < 0.2 THEN u3 * 400 ELSE 0 END AS hold,
        direction = 'inbound' AND NOT direct AND outcome = 'answered' AND h3 % 100 < 6
            AS transferred,
        outcome = 'answered' AND direction <> 'internal' AND h5 % 10 < 7 AS recorded,
        '0' || substr(e164, 4) AS national,
        (FLOOR(extract(epoch FROM started_at)))::bigint || '.' || i AS linkedid
    FROM b
), d AS (
    SELECT c.*,
        coalesce(queue_joined_at, started_at) + make_interval(secs => wait) AS ring_end,
        'PJSIP/' || ($11::int + agent) AS device,
        'PJSIP/' || ($11::int + other) AS other_device,
        ($12::bigint[])[agent + 1] AS agent_id,
        ($12::bigint[])[other + 1] AS other_id
    FROM c
)
INSERT INTO calls (
    id, pbx, linkedid, direction, caller_number, caller_name, called_number, customer_number,
    customer_e164, did, queue, answered_by, answered_by_user_id, outcome, hangup_cause,
    hangup_cause_text, dial_status, hung_up_by, started_at, queue_joined_at, answered_at,
    ended_at, wait_seconds, talk_seconds, hold_seconds, recordings, rings, transfers,
    end_reason, disposition, disposition_by_user_id, created_at, updated_at
)
SELECT
    $3::bigint + i, $13, linkedid, direction,
    CASE direction WHEN 'inbound' THEN national WHEN 'outbound' THEN ($11::int + agent)::text
         ELSE ($11::int + agent)::text END,
    '',
    CASE direction WHEN 'inbound' THEN '0219100100' || qi WHEN 'outbound' THEN national
         ELSE ($11::int + other)::text END,
    CASE WHEN direction = 'internal' THEN '' ELSE national END,
    CASE WHEN direction = 'internal' THEN NULL ELSE e164 END,
    CASE WHEN direction = 'inbound' THEN '0219100100' || qi ELSE '' END,
    queue,
    CASE WHEN outcome <> 'answered' THEN ''
         WHEN direction = 'internal' THEN other_device ELSE device END,
    CASE WHEN outcome <> 'answered' THEN NULL
         WHEN direction = 'internal' THEN other_id ELSE agent_id END,
    outcome,
    CASE outcome WHEN 'busy' THEN '17' WHEN 'failed' THEN '34' WHEN 'missed' THEN '19'
         ELSE '16' END,
    CASE outcome WHEN 'busy' THEN 'User busy' WHEN 'failed' THEN 'Circuit/channel congestion'
         WHEN 'missed' THEN 'No answer' ELSE 'Normal Clearing' END,
    CASE outcome WHEN 'answered' THEN 'ANSWER' WHEN 'busy' THEN 'BUSY'
         WHEN 'failed' THEN 'CHANUNAVAIL' WHEN 'abandoned' THEN '' ELSE 'NOANSWER' END,
    CASE WHEN outcome = 'abandoned' THEN 'customer' WHEN outcome <> 'answered' THEN 'pbx'
         WHEN u3 < 0.55 THEN 'customer' ELSE 'agent' END,
    started_at, queue_joined_at,
    CASE WHEN outcome = 'answered' THEN ring_end END,
    ring_end + make_interval(secs => talk + hold),
    round(wait::numeric, 1), round(talk::numeric, 1), round(hold::numeric, 1),
    CASE WHEN recorded THEN ARRAY['q-' || linkedid || '.wav'] ELSE ARRAY[]::text[] END,
    CASE
        WHEN direction <> 'inbound' OR direct OR outcome NOT IN ('answered', 'missed')
            THEN '[]'::jsonb
        WHEN outcome = 'answered' THEN jsonb_build_array(jsonb_build_object(
            'device', device, 'extension', ($11::int + agent)::text, 'member_name', device,
            'at', extract(epoch FROM ring_end) - 3, 'answered_at', extract(epoch FROM ring_end),
            'ended_at', extract(epoch FROM ring_end + make_interval(secs => talk + hold)),
            'result', 'answered'))
        ELSE jsonb_build_array(
            jsonb_build_object('device', device, 'extension', ($11::int + agent)::text,
                'member_name', device, 'at', extract(epoch FROM queue_joined_at) + 1,
                'answered_at', NULL, 'ended_at', extract(epoch FROM queue_joined_at) + 21,
                'result', 'no_answer'),
            jsonb_build_object('device', other_device, 'extension', ($11::int + other)::text,
                'member_name', other_device, 'at', extract(epoch FROM queue_joined_at) + 26,
                'answered_at', NULL, 'ended_at', extract(epoch FROM queue_joined_at) + 46,
                'result', 'no_answer'))
    END,
    CASE WHEN transferred THEN jsonb_build_array(jsonb_build_object(
        'kind', 'blind', 'from_device', device, 'to', ($7::text[])[1 + qi % 5],
        'at', extract(epoch FROM ring_end) + talk / 2)) ELSE '[]'::jsonb END,
    '',
    CASE WHEN outcome = 'answered' AND h5 / 10 % 10 < 6
         THEN ($14::text[])[1 + h5 / 100 % cardinality($14::text[])] ELSE '' END,
    CASE WHEN outcome = 'answered' AND h5 / 10 % 10 < 6
         THEN CASE WHEN direction = 'internal' THEN other_id ELSE agent_id END END,
    ring_end + make_interval(secs => talk + hold),
    ring_end + make_interval(secs => talk + hold)
FROM d
"""

# Every call's legs: the trunk's (external calls), each phone that rang (its rings), the
# agent's own phone (outbound, internal), the callee's (internal), a transfer's target.
SEED_LEGS = """
INSERT INTO call_legs (
    call_id, pbx, uniqueid, channel, device, internal, user_id, created_at, answered_at,
    ended_at, hangup_cause, hangup_cause_text, dial_status
)
SELECT c.id, c.pbx, c.linkedid || '-' || l.n, l.device || '-' || lpad(to_hex(c.id), 8, '0'),
       l.device, l.internal,
       CASE WHEN l.internal THEN ($3::bigint[])[substr(l.device, 7)::int - $4::int + 1] END,
       l.created_at, l.answered_at, c.ended_at, c.hangup_cause, c.hangup_cause_text,
       l.dial_status
FROM calls c CROSS JOIN LATERAL (
    SELECT 0 AS n, 'PJSIP/trunk' AS device, false AS internal, c.started_at AS created_at,
           c.answered_at, c.dial_status
    WHERE c.direction <> 'internal'
    UNION ALL
    SELECT r.n, r.e ->> 'device', true, to_timestamp((r.e ->> 'at')::float8),
           to_timestamp((r.e ->> 'answered_at')::float8),
           CASE r.e ->> 'result' WHEN 'answered' THEN 'ANSWER' ELSE 'NOANSWER' END
    FROM jsonb_array_elements(c.rings) WITH ORDINALITY AS r(e, n)
    UNION ALL
    SELECT 10, 'PJSIP/' || c.caller_number, true, c.started_at, c.started_at, ''
    WHERE c.direction IN ('outbound', 'internal')
    UNION ALL
    SELECT 11, 'PJSIP/' || c.called_number, true, c.started_at, c.answered_at, c.dial_status
    WHERE c.direction = 'internal'
    UNION ALL
    SELECT 20, 'PJSIP/' || ($4::int + ($5::int + substr(c.answered_by, 7)::int - $4::int) % $6),
           true, to_timestamp((c.transfers -> 0 ->> 'at')::float8),
           to_timestamp((c.transfers -> 0 ->> 'at')::float8 + 8), 'ANSWER'
    WHERE c.transfers <> '[]'::jsonb
) AS l
WHERE c.id BETWEEN $1 AND $2
"""

SEED_CALL_CUSTOMERS = """
INSERT INTO call_customers (call_id, customer_id)
SELECT c.id, p.customer_id
FROM calls c JOIN customer_phones p ON p.e164 = c.customer_e164
WHERE c.id BETWEEN $1 AND $2
ON CONFLICT DO NOTHING
"""

SEED_RECORDINGS = """
INSERT INTO recordings (
    call_id, position, pbx, reported_path, source, relative_path, state, attempts,
    next_check_at, size, duration_seconds, format, codec, content_type, sha256, available_at,
    legal_hold, deleted_at, created_at, updated_at
)
SELECT id, 0, pbx, '/var/spool/asterisk/monitor/' || recordings[1], 'mixmonitor',
       to_char(started_at, 'YYYY/MM/DD/') || recordings[1],
       CASE id % 100 WHEN 0 THEN 'missing' WHEN 1 THEN 'deleted' ELSE 'available' END,
       1, NULL, (talk_seconds * 16000)::bigint, talk_seconds, 'wav', 'pcm_s16le',
       'audio/wav', md5(linkedid) || md5(linkedid), ended_at + interval '10 s', false,
       CASE id % 100 WHEN 1 THEN ended_at + interval '365 days' END, ended_at, ended_at
FROM calls
WHERE id BETWEEN $1 AND $2 AND cardinality(recordings) > 0
"""

SEED_NOTES = """
INSERT INTO call_notes (call_id, user_id, text, created_at)
SELECT id, answered_by_user_id, ($3::text[])[1 + id % cardinality($3::text[])],
       ended_at + interval '30 s'
FROM calls
WHERE id BETWEEN $1 AND $2 AND outcome = 'answered' AND answered_by_user_id IS NOT NULL
  AND (hashint8(id * 3)::bigint & 2147483647) % 100 < 5
"""

# The answered inbound calls that get a tracking code (the codes are made in Python: a Damm
# check digit) ...
CODED_CALLS = """
SELECT id FROM calls
WHERE id BETWEEN $1 AND $2 AND direction = 'inbound' AND outcome = 'answered'
  AND (hashint8(id * 5)::bigint & 2147483647) % 100 < 6
ORDER BY id
"""

# ... one a call, for the customer holding its number; a third of them closed.
SEED_CODES = """
WITH src AS (
    SELECT * FROM unnest($1::bigint[], $2::text[]) AS s(call_id, code)
), added AS (
    INSERT INTO tracking_codes (
        code, customer_id, status, subject, owner_user_id, issued_by_user_id, automatic,
        closed_at, created_at, updated_at
    )
    SELECT s.code,
           (SELECT min(cc.customer_id) FROM call_customers cc WHERE cc.call_id = c.id),
           CASE WHEN c.id % 3 = 0 THEN 'closed' ELSE 'open' END,
           CASE WHEN c.disposition <> '' THEN 'پیگیری ' || c.disposition ELSE '' END,
           c.answered_by_user_id, c.answered_by_user_id, c.id % 2 = 0,
           CASE WHEN c.id % 3 = 0 THEN c.ended_at + interval '2 days' END,
           c.started_at, c.started_at
    FROM src s JOIN calls c ON c.id = s.call_id
    RETURNING id, code, created_at
)
INSERT INTO tracking_code_calls (tracking_code_id, call_id, linked_at)
SELECT added.id, src.call_id, added.created_at FROM added JOIN src USING (code)
"""


def day_starts(calls: int, first_day: date) -> list[int]:
    """The first call index of each of the DAYS days: weekday shape, and 40 % more calls a
    day at the end of the two years than at the start."""
    weights = [
        WEEKDAY_WEIGHTS[(first_day + timedelta(days=d)).weekday()] * (1 + 0.4 * d / DAYS)
        for d in range(DAYS)
    ]
    total = sum(weights)
    starts, acc = [], 0.0
    for w in weights:
        starts.append(1 + round(calls * acc / total))
        acc += w
    return starts


def hour_thresholds() -> list[int]:
    total = sum(HOUR_WEIGHTS)
    out, acc = [], 0.0
    for w in HOUR_WEIGHTS:
        out.append(round(1000 * acc / total))
        acc += w
    return out


def codes_for(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        body = str(rng.randint(1, 9)) + f"{rng.randrange(10**6):06d}"
        code = body + damm.calc_check_digit(body)
        if code not in taken:
            taken.add(code)
            out.append(code)
    return out


@dataclass
class Seeded:
    calls: int
    first_id: int
    first_day: date
    agent_ids: list[int]
    boss_id: int
    seconds: float  # 0 when an earlier run's data was reused
    reused: bool
    first_customer_id: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def seed(db: Driver, calls: int, batch: int, rng: random.Random) -> Seeded:
    today = datetime.now(ZoneInfo(TZ)).date()
    first_day = today - timedelta(days=DAYS)
    have = int(await db.fetchval("SELECT count(*) FROM calls"))
    if have:
        if have != calls or not await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)", BOSS
        ):
            raise SystemExit(
                f"the database holds {have:,} calls; it must be empty, or hold what an earlier"
                f" run with --calls {have} kept (--keep)"
            )
        print(f"  reusing the {have:,} calls an earlier run seeded", flush=True)
        first_id = int(await db.fetchval("SELECT min(id) FROM calls"))
        first = await db.fetchval("SELECT min(started_at) FROM calls")
        ids = [
            r["id"]
            for r in await db.fetch(
                "SELECT id FROM users WHERE username LIKE $1 ORDER BY id", AGENT_PREFIX + "%"
            )
        ]
        boss = int(await db.fetchval("SELECT id FROM users WHERE username = $1", BOSS))
        return Seeded(
            calls,
            first_id,
            first.astimezone(ZoneInfo(TZ)).date(),
            ids,
            boss,
            0.0,
            True,
            int(await db.fetchval("SELECT min(id) FROM customers")),
        )

    started = time.perf_counter()
    customers = max(1000, calls // 10)
    print(f"  {customers:,} customers ...", flush=True)
    people = await seed_customers(db, customers, min(batch, 250_000))  # type: ignore[arg-type]
    await db.execute("SET synchronous_commit = off")  # this session only; a crash loses a seed
    await db.execute("SET TIME ZONE 'Asia/Tehran'")
    password = hash_password(PASSWORD)
    agent_ids = list(await db.fetchval(SEED_USERS, AGENT_PREFIX, AGENTS, password))
    boss = int(
        await db.fetchval(
            "INSERT INTO users (username, full_name, role, password_hash, is_active)"
            " VALUES ($1, 'سرپرست مرکز تماس', 'supervisor', $2, true) RETURNING id",
            BOSS,
            password,
        )
    )
    await db.execute(
        "INSERT INTO user_devices (user_id, device)"
        " SELECT id, 'PJSIP/' || ($2 + i - 1) FROM unnest($1::bigint[]) WITH ORDINALITY a(id, i)",
        agent_ids,
        FIRST_EXTENSION,
    )
    # The numbers callers call from, a key each: a call draws one by key.
    await db.execute("DROP TABLE IF EXISTS bench_numbers")
    await db.execute(
        "CREATE TEMP TABLE bench_numbers AS SELECT row_number() OVER (ORDER BY e164) AS k, e164"
        " FROM (SELECT DISTINCT e164 FROM customer_phones) AS p"
    )
    await db.execute("CREATE UNIQUE INDEX ON bench_numbers (k)")
    await db.execute("ANALYZE bench_numbers")
    numbers = int(await db.fetchval("SELECT count(*) FROM bench_numbers"))
    base = int(await db.fetchval("SELECT nextval(pg_get_serial_sequence('calls', 'id'))"))
    start = datetime.combine(first_day, dtime.min, tzinfo=ZoneInfo(TZ))
    starts = day_starts(calls, first_day)
    hours = hour_thresholds()
    taken: set[str] = set()
    for lo in range(1, calls + 1, batch):
        hi = min(lo + batch - 1, calls)
        await db.execute(
            SEED_CALLS, lo, hi, base, starts, start, hours, list(QUEUES), numbers,
            list(QUEUE_SHARES), AGENTS, FIRST_EXTENSION, agent_ids, PBX, list(DISPOSITIONS),
        )  # fmt: skip
        a, b = base + lo, base + hi
        await db.execute(SEED_LEGS, a, b, agent_ids, FIRST_EXTENSION, 10, AGENTS)
        await db.execute(SEED_CALL_CUSTOMERS, a, b)
        await db.execute(SEED_RECORDINGS, a, b)
        await db.execute(SEED_NOTES, a, b, list(NOTES))
        coded = [r["id"] for r in await db.fetch(CODED_CALLS, a, b)]
        await db.execute(SEED_CODES, coded, codes_for(rng, len(coded), taken))
        print(f"  seeded {hi:>12,} calls  {time.perf_counter() - started:7.1f} s", flush=True)
    await db.execute(
        "SELECT setval(pg_get_serial_sequence('calls', 'id'), (SELECT max(id) FROM calls))"
    )
    loaded = time.perf_counter()
    # VACUUM as well as ANALYZE: hint bits and the visibility map now, not inside the timing.
    for table in (
        "calls", "call_legs", "call_customers", "recordings", "call_notes", "tracking_codes",
        "tracking_code_calls", "users", "user_devices",
    ):  # fmt: skip
        await db.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  vacuum + analyze {time.perf_counter() - loaded:7.1f} s", flush=True)
    seconds = time.perf_counter() - started
    return Seeded(calls, base + 1, first_day, agent_ids, boss, seconds, False, people.first_id)


async def describe(db: Driver, seeded: Seeded) -> None:
    for table in (
        "customers", "calls", "call_legs", "call_customers", "recordings", "call_notes",
        "tracking_codes",
    ):  # fmt: skip
        seeded.counts[table] = int(await db.fetchval(f"SELECT count(*) FROM {table}"))
    seeded.counts["database_mb"] = round(
        await db.fetchval("SELECT pg_database_size(current_database())") / 2**20
    )


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


async def unseed(db: Driver, seeded: Seeded) -> None:
    await db.execute("DELETE FROM calls WHERE pbx = $1", PBX)
    await db.execute("DELETE FROM tracking_codes WHERE issued_by_user_id = ANY($1::bigint[])",
                     seeded.agent_ids)  # fmt: skip
    await db.execute("DELETE FROM users WHERE username LIKE $1 OR username = $2",
                     AGENT_PREFIX + "%", BOSS)  # fmt: skip
    if seeded.first_customer_id:
        last = seeded.first_customer_id + max(1000, seeded.calls // 10) - 1
        await db.execute(
            "DELETE FROM customers WHERE id BETWEEN $1 AND $2", seeded.first_customer_id, last
        )


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
