"""The webhook outbox and its worker against a receiver on a real socket: signatures,
retries, per-endpoint order, dead letters, and what a stop mid-delivery leaves behind."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.integrations import events as ev
from app.integrations import signing
from app.integrations.repository import IntegrationRepository
from app.integrations.service import IntegrationService, emit
from app.integrations.worker import WebhookWorker, backoff
from app.models import WebhookAttempt, WebhookDelivery
from tests.integrations.receiver import Receiver, eventually, receiving


async def register(
    db: Database, url: str, types: Sequence[str] = (ev.CALLBACK_CREATED,)
) -> tuple[int, str]:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        endpoint = await IntegrationService(session).create(url, list(types), "test", True)
        return endpoint.id, endpoint.secret


async def enqueue(db: Database, *numbers: str) -> list[str]:
    """One callback.created event per number, each in a transaction of its own."""
    assert db.sessionmaker is not None
    ids = []
    for number in numbers:
        event = ev.envelope(ev.CALLBACK_CREATED, {"callback_id": 1, "number": number})
        async with unit_of_work(db.sessionmaker) as session:
            await emit(session, [event])
        ids.append(event.id)
    return ids


@asynccontextmanager
async def working(db: Database, settings: Settings, **kwargs: Any) -> AsyncIterator[WebhookWorker]:
    assert db.sessionmaker is not None
    worker = WebhookWorker(db.sessionmaker, settings, poll_seconds=0.02, **kwargs)
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def deliveries(db: Database) -> list[WebhookDelivery]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
        return list((await session.execute(stmt)).scalars())


async def attempts(db: Database, delivery_id: int) -> list[WebhookAttempt]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
        return list((await session.execute(stmt)).scalars())


def settled(db: Database, n: int) -> Any:
    async def check() -> bool:
        rows = await deliveries(db)
        return len(rows) == n and all(r.status in ("delivered", "dead") for r in rows)

    return check


def hmac_of(secret: str, t: str, body: bytes) -> str:
    """The documented algorithm, written out again here: HMAC-SHA256 of "<t>.<body>"."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


async def test_a_delivery_is_signed_as_documented(db: Database, fast: Settings) -> None:
    async with receiving() as receiver:
        _, secret = await register(db, receiver.url)
        [event_id] = await enqueue(db, "+989121234567")
        async with working(db, fast):
            await eventually(settled(db, 1))
    [got] = receiver.received
    header = got.headers["tamas-signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert set(fields) == {"t", "v1"}
    assert abs(int(fields["t"]) - time.time()) < 60
    assert hmac.compare_digest(fields["v1"], hmac_of(secret, fields["t"], got.body))
    assert signing.verify(secret, header, got.body) == int(fields["t"])
    # The body is the versioned envelope; the event id is in a header too.
    payload = json.loads(got.body)
    assert payload["version"] == ev.VERSION
    assert payload["id"] == event_id == got.headers["tamas-event-id"]
    assert payload["type"] == got.headers["tamas-event-type"] == ev.CALLBACK_CREATED
    assert payload["data"]["number"] == "+989121234567"
    assert got.headers["content-type"] == "application/json"
    # A changed body, another secret, or the same request replayed past the window: refused.
    with pytest.raises(signing.BadSignature):
        signing.verify(secret, header, got.body + b" ")
    with pytest.raises(signing.BadSignature):
        signing.verify("whsec_other", header, got.body)
    with pytest.raises(signing.BadSignature, match="replay window"):
        signing.verify(secret, header, got.body, now=int(fields["t"]) + signing.REPLAY_WINDOW + 1)
    [row] = await deliveries(db)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert row.delivered_at is not None and row.last_duration_ms is not None


async def test_500s_and_timeouts_are_tried_again(db: Database, fast: Settings) -> None:
    async with receiving(Receiver(script=[500, "hang", 503])) as receiver:
        await register(db, receiver.url)
        [event_id] = await enqueue(db, "+989121234567")
        async with working(db, fast):
            await eventually(settled(db, 1))
    assert receiver.event_ids() == [event_id] * 4
    assert [r.headers["tamas-delivery-attempt"] for r in receiver.received] == ["1", "2", "3", "4"]
    [row] = await deliveries(db)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 4, 200)
    log = await attempts(db, row.id)
    assert [a.status_code for a in log] == [500, None, 503, 200]
    assert log[0].error.startswith("HTTP 500")
    assert "no answer within 0.5 s" in log[1].error
    assert log[1].duration_ms >= 500


async def test_an_endpoint_gets_its_events_in_order(db: Database, fast: Settings) -> None:
    # The first tries of every event fail: each event must still wait for the one before.
    seen: dict[str, int] = {}

    def decide(got: Any) -> int:
        event_id = got.headers["tamas-event-id"]
        seen[event_id] = seen.get(event_id, 0) + 1
        return 500 if seen[event_id] <= 2 else 200

    async with receiving(Receiver(decide=decide)) as receiver:
        await register(db, receiver.url)
        ids = await enqueue(db, *(f"+98912000000{i}" for i in range(6)))
        # Two instances share the work: still one delivery in flight for the endpoint.
        async with working(db, fast), working(db, fast):
            await eventually(settled(db, 6))
    got = receiver.event_ids()
    assert got == [i for i in ids for _ in range(3)]
    assert receiver.event_ids(200) == ids


async def test_each_endpoint_has_its_own_queue(db: Database, fast: Settings) -> None:
    # One endpoint down does not hold the other's events back.
    async with receiving(Receiver(default=500)) as down, receiving() as up:
        await register(db, down.url)
        await register(db, up.url)
        ids = await enqueue(db, "+989120000001", "+989120000002")
        async with working(db, fast):
            await eventually(lambda: _has(up, 2))
    assert up.event_ids() == ids


async def _has(receiver: Receiver, n: int) -> bool:
    return len(receiver.event_ids(200)) >= n


async def test_dead_after_the_last_try_and_the_queue_moves_on(db: Database, fast: Settings) -> None:
    def decide(got: Any) -> int:
        return 500 if json.loads(got.body)["data"]["number"] == "bad" else 200

    async with receiving(Receiver(decide=decide)) as receiver:
        await register(db, receiver.url)
        bad, good = await enqueue(db, "bad", "good")
        async with working(db, fast):
            await eventually(settled(db, 2))
    assert receiver.event_ids() == [bad] * fast.webhook_max_attempts + [good]
    dead, delivered = await deliveries(db)
    assert (dead.status, dead.attempts, dead.last_status_code) == ("dead", 4, 500)
    assert delivered.status == "delivered"
    assert len(await attempts(db, dead.id)) == 4


async def test_a_stop_mid_delivery_sends_again_without_a_second_delivered_row(
    db: Database, fast: Settings
) -> None:
    async with receiving(Receiver(script=["hang"])) as receiver:
        await register(db, receiver.url)
        [event_id] = await enqueue(db, "+989121234567")
        async with working(db, fast) as first:
            await eventually(lambda: _got(receiver, 1))
        # Stopped while the receiver had the request and had not answered (Tamas restarting):
        # the row is put back, not delivered and not lost.
        [row] = await deliveries(db)
        assert (row.status, row.delivered_at) == ("pending", None)
        assert first.delivered == 0
        async with working(db, fast):
            await eventually(settled(db, 1))
    # At least once: the receiver saw the event twice (same event id, to de-duplicate by);
    # Tamas has it delivered once, in one row.
    assert receiver.event_ids() == [event_id, event_id]
    rows = await deliveries(db)
    assert [(r.event_id, r.status) for r in rows] == [(event_id, "delivered")]
    log = await attempts(db, rows[0].id)
    assert [a.error.startswith("interrupted") for a in log] == [True, False]


async def _got(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


async def test_a_claim_whose_instance_died_is_taken_over_after_its_lease(
    db: Database, fast: Settings
) -> None:
    assert db.sessionmaker is not None
    async with receiving() as receiver:
        await register(db, receiver.url)
        [event_id, later] = await enqueue(db, "+989121234567", "+989121234568")
        # An instance claimed the head and died (never wrote the outcome, never released it).
        async with unit_of_work(db.sessionmaker) as session:
            [claimed] = await IntegrationRepository(session).claim([], 1, lease_seconds=0.3)
        assert claimed.event_id == event_id
        async with working(db, fast):
            await eventually(settled(db, 2))
        # The late outcome of the dead instance's claim is not written over the new one.
        async with unit_of_work(db.sessionmaker) as session:
            written = await IntegrationRepository(session).finish(
                claimed,
                status="pending",
                started_at=claimed_at(),
                duration_ms=1.0,
                status_code=500,
                error="late",
                next_attempt_at=None,
            )
        assert written is False
    assert receiver.event_ids() == [event_id, later]
    rows = await deliveries(db)
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 2), ("delivered", 1)]


def claimed_at() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_only_the_endpoints_that_want_an_event_get_it(db: Database) -> None:
    assert db.sessionmaker is not None
    calls, _ = await register(db, "http://127.0.0.1:9/calls", [ev.CALL_ENDED])
    both, _ = await register(db, "http://127.0.0.1:9/both", [ev.CALL_ENDED, ev.CALLBACK_CREATED])
    async with unit_of_work(db.sessionmaker) as session:
        await IntegrationService(session).update(calls, {"enabled": False})
    await enqueue(db, "+989121234567")
    async with unit_of_work(db.sessionmaker) as session:
        made = await emit(session, [ev.envelope(ev.CALL_ENDED, {"call_id": 1})])
    assert made == 1
    rows = await deliveries(db)
    assert [(r.endpoint_id, r.event_type) for r in rows] == [
        (both, ev.CALLBACK_CREATED),
        (both, ev.CALL_ENDED),
    ]
    async with db.sessionmaker() as session:
        stored = (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar()
    assert stored == 2


async def test_an_event_rolled_back_with_its_cause_is_never_sent(db: Database) -> None:
    assert db.sessionmaker is not None
    await register(db, "http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError):
        async with unit_of_work(db.sessionmaker) as session:
            await emit(session, [ev.envelope(ev.CALLBACK_CREATED, {"callback_id": 1})])
            raise RuntimeError("the cause failed")
    assert await deliveries(db) == []


def test_backoff_doubles_with_jitter() -> None:
    for attempt, wait in [(1, 5.0), (2, 10.0), (3, 20.0), (10, 60.0)]:
        got = [backoff(attempt, 5.0, 60.0) for _ in range(50)]
        assert all(wait / 2 <= g <= wait for g in got)
        assert len(set(got)) > 1


async def test_no_delivery_starts_while_the_pbx_listeners_are_busy(
    db: Database, fast: Settings
) -> None:
    busy = True
    async with receiving() as receiver:
        await register(db, receiver.url)
        [event_id] = await enqueue(db, "+989121234567")
        async with working(db, fast, yield_to=lambda: busy) as worker:
            await eventually(lambda: _yielded(worker, 5))
            assert receiver.received == []
            [row] = await deliveries(db)
            assert row.status == "pending" and row.attempts == 0
            busy = False
            await eventually(settled(db, 1))
    assert receiver.event_ids() == [event_id]


async def _yielded(worker: WebhookWorker, n: int) -> bool:
    return worker.yielded >= n
