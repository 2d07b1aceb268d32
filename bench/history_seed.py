"""The data of bench/history.py: two years of a call center's calls, seeded set-based in the
database (``INSERT ... SELECT FROM generate_series``), every draw a hash of the call's index so
that a call is the same whichever batch makes it. See bench/history.py for what is seeded."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from common import Driver
from lookup import seed as seed_customers
from stdnum import damm

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
                                     ELSE 'missed' END
            WHEN 'outbound' THEN CASE WHEN r < 650 THEN 'answered' WHEN r < 900 THEN 'no_answer'
                                      WHEN r < 980 THEN 'busy' ELSE 'failed' END
            ELSE CASE WHEN r < 800 THEN 'answered' WHEN r < 950 THEN 'no_answer'
                      ELSE 'busy' END
        END AS outcome,
        -- why an inbound call was missed: the phones rang out, or a line was busy
        CASE WHEN direction <> 'inbound' OR r < 930 THEN ''
             WHEN r < 985 THEN 'no_answer' ELSE 'busy' END AS missed_reason,
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
            WHEN outcome = 'missed' AND missed_reason = 'busy' THEN 1 + u1 * 3
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
    end_reason, disposition, disposition_by_user_id, created_at, updated_at, missed_reason
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
    CASE WHEN outcome = 'busy' OR missed_reason = 'busy' THEN '17' WHEN outcome = 'failed'
         THEN '34' WHEN outcome = 'missed' THEN '19' ELSE '16' END,
    CASE WHEN outcome = 'busy' OR missed_reason = 'busy' THEN 'User busy'
         WHEN outcome = 'failed' THEN 'Circuit/channel congestion'
         WHEN outcome = 'missed' THEN 'No answer' ELSE 'Normal Clearing' END,
    CASE WHEN missed_reason = 'busy' THEN 'BUSY' ELSE CASE outcome WHEN 'answered' THEN 'ANSWER'
         WHEN 'busy' THEN 'BUSY'
         WHEN 'failed' THEN 'CHANUNAVAIL' WHEN 'abandoned' THEN '' ELSE 'NOANSWER' END END,
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
    ring_end + make_interval(secs => talk + hold),
    missed_reason
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
