"""The outbox against a fake Kavenegar on a real socket: every text sent exactly once with
two workers at once, after provider errors, timeouts, lost answers and a worker that died
mid-send; nothing lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from app.config import Settings, SmsHttpSettings
from app.db import Database, unit_of_work
from app.messaging.providers import KavenegarProvider, Outgoing, build_provider
from app.messaging.repository import OutboxRepository
from app.messaging.service import MessagingService, Text
from app.messaging.worker import OutboxWorker
from app.models import SmsMessage
from tests.fixtures.sms_provider import API_KEY, FakeSms
from tests.messaging.conftest import sms_settings


async def queue_texts(db: Database, settings: Settings, n: int, prefix: str = "t") -> list[int]:
    assert db.sessionmaker is not None
    ids = []
    async with unit_of_work(db.sessionmaker) as session:
        service = MessagingService(session, settings)
        for i in range(n):
            row = await service.queue(
                Text("manual", f"{prefix}:{i}", f"0912{i % 10_000_000:07d}", {}, body=f"سلام {i}")
            )
            assert row is not None
            ids.append(row.id)
    return ids


async def rows(db: Database) -> list[SmsMessage]:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        return list((await session.execute(select(SmsMessage).order_by(SmsMessage.id))).scalars())


async def drain(*workers: OutboxWorker, db: Database) -> None:
    """Run the workers side by side until nothing is queued or being sent."""
    assert db.sessionmaker is not None
    for _ in range(2000):
        await asyncio.gather(*(w.run_once() for w in workers))
        async with unit_of_work(db.sessionmaker) as session:
            left = await session.scalar(
                select(func.count()).where(SmsMessage.status.in_(("queued", "sending")))
            )
        if not left:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox did not drain")


def worker(db: Database, settings: Settings, name: str) -> OutboxWorker:
    assert db.sessionmaker is not None
    return OutboxWorker(
        db.sessionmaker, settings, build_provider(settings), name=name, sweeps=False
    )


async def test_two_workers_send_each_text_exactly_once(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake, sms_batch=25, sms_concurrency=5)
    ids = await queue_texts(outbox_db, conf, 400)
    a, b = worker(outbox_db, conf, "a"), worker(outbox_db, conf, "b")
    try:
        await drain(a, b, db=outbox_db)
    finally:
        await a.stop()
        await b.stop()
    stored = await rows(outbox_db)
    assert [r.status for r in stored] == ["sent"] * 400
    assert sorted(fake.sends) == sorted(str(i) for i in ids)
    assert set(fake.sends.values()) == {1} and fake.repeats == 0 and fake.requests == 400
    # Both took part (SKIP LOCKED let each claim what the other had not).
    assert a.sent > 0 and b.sent > 0 and a.sent + b.sent == 400
    assert {r.claimed_by for r in stored} == {"a", "b"}
    assert all(r.attempts == 1 and r.provider == "kavenegar" for r in stored)
    assert len({r.provider_message_id for r in stored}) == 400
    # What Kavenegar got: the national number, the text, the sender, the local id.
    first = fake.texts[str(ids[0])]
    assert first == {
        "receptor": "09120000000",
        "message": "سلام 0",
        "localid": str(ids[0]),
        "sender": "10004346",
    }


async def test_provider_errors_then_success(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake)
    (message_id,) = await queue_texts(outbox_db, conf, 1)
    fake.script = [502, 409, 451]  # a proxy's error page, Kavenegar busy, too many requests
    w = worker(outbox_db, conf, "w")
    try:
        for expected_error in ("HTTP 502", "Kavenegar 409", "Kavenegar 451"):
            await w.run_once()
            (row,) = await rows(outbox_db)
            assert row.status == "queued" and expected_error in row.last_error
            await asyncio.sleep(0.02)  # the backoff (0.01 s here)
        await drain(w, db=outbox_db)
    finally:
        await w.stop()
    (row,) = await rows(outbox_db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, "")
    assert fake.sends[str(message_id)] == 1


async def test_a_wrong_number_fails_at_once_and_tries_stop_at_the_most(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake, sms_max_attempts=3)
    await queue_texts(outbox_db, conf, 2)
    fake.script = [411, 500, 500, 500]  # invalid receptor (never retried), then down
    w = worker(outbox_db, conf, "w")
    try:
        await drain(w, db=outbox_db)
    finally:
        await w.stop()
    first, second = await rows(outbox_db)
    assert (first.status, first.attempts) == ("failed", 1) and "411" in first.last_error
    assert (second.status, second.attempts) == ("failed", 3) and "500" in second.last_error
    assert not fake.sends


async def test_a_lost_answer_and_a_dead_worker_send_nothing_twice(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake, sms_timeout_seconds=0.3, sms_lease_seconds=0.2)
    lost, orphan = await queue_texts(outbox_db, conf, 2)
    assert outbox_db.sessionmaker is not None
    # 1. Kavenegar sends the first text but its answer never arrives (the client times out):
    # the retry carries the same localid and Kavenegar answers with the first message.
    fake.stall_seconds = 2.0
    fake.script = ["lose"]
    w = worker(outbox_db, conf.model_copy(update={"sms_batch": 1}), "w")
    try:
        await w.run_once()
        (row, _) = await rows(outbox_db)
        assert row.status == "queued" and "in time" in row.last_error
        assert fake.sends[str(lost)] == 1
        # 2. A worker claims the second and dies after sending, before writing anything.
        async with unit_of_work(outbox_db.sessionmaker) as session:
            (claimed,) = await OutboxRepository(session).claim("dead", 1, 0.2)
        assert claimed.id == orphan
        provider = build_provider(conf)
        assert provider is not None
        await provider.send(Outgoing(claimed.id, claimed.number, claimed.body))
        await provider.aclose()
        assert fake.sends[str(orphan)] == 1
        # Its lease runs out (the database's clock); another worker takes both over.
        await asyncio.sleep(0.3)
        await drain(w, db=outbox_db)
        # The dead worker, come back, can no longer write over what was done.
        async with unit_of_work(outbox_db.sessionmaker) as session:
            await OutboxRepository(session).done(
                "dead", [{"id": orphan, "status": "failed", "provider": "x", "message_id": ""}]
            )
    finally:
        await w.stop()
    first, second = await rows(outbox_db)
    assert (first.status, first.attempts) == ("sent", 2)
    assert (second.status, second.attempts, second.claimed_by) == ("sent", 2, "w")
    assert fake.repeats == 2 and fake.duplicates == 0
    assert dict(fake.sends) == {str(lost): 1, str(orphan): 1}
    # The retry's answer names the message sent the first time.
    assert first.provider_message_id == str(fake.message_ids[str(lost)])


@pytest.mark.parametrize("deduplicates", [False, True])
async def test_a_lost_answer_from_a_provider_that_cannot_tell_a_repeat_is_not_sent_again(
    outbox_db: Database, settings: Settings, fake: FakeSms, deduplicates: bool
) -> None:
    # A generic HTTP provider takes the text and its answer is lost. One that refuses a
    # repeated local id is asked again (its answer names the first message); one that does
    # not would text the customer twice: the text is failed instead, saying why.
    fake.dedupe = deduplicates
    http = SmsHttpSettings(
        url=f"{fake.base_url}/generic/send",
        headers={"Authorization": "Bearer {api_key}"},
        body='{{"to": "{national}", "text": "{text}", "ref": "{local_id}"}}',
        id_path="data.messageId",
        api_key=SecretStr(API_KEY),
        deduplicates=deduplicates,
    )
    conf = sms_settings(settings, fake, sms_provider="http", sms_http=http,
                        sms_timeout_seconds=0.3)  # fmt: skip
    [text_id] = await queue_texts(outbox_db, conf, 1)
    fake.stall_seconds = 2.0
    fake.script = ["lose"]
    w = worker(outbox_db, conf, "w")
    try:
        await drain(w, db=outbox_db)
    finally:
        await w.stop()
    [row] = await rows(outbox_db)
    assert fake.sends[str(text_id)] == 1 and fake.duplicates == 0
    if deduplicates:
        assert (row.status, row.attempts, fake.repeats) == ("sent", 2, 1)
    else:
        assert (row.status, row.attempts) == ("failed", 1)
        assert "may have been sent" in row.last_error
        assert fake.requests == 1


async def test_a_cause_queues_one_text(outbox_db: Database, settings: Settings) -> None:
    assert outbox_db.sessionmaker is not None
    for _ in range(2):
        async with unit_of_work(outbox_db.sessionmaker) as session:
            await MessagingService(session, settings).queue(
                Text("manual", "same-cause", "09121234567", {}, body="یک بار")
            )
    assert len(await rows(outbox_db)) == 1


async def test_delivery_reports_are_polled(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake, sms_status_poll_seconds=0.01)
    ids = await queue_texts(outbox_db, conf, 3)
    w = worker(outbox_db, conf, "w")
    try:
        await drain(w, db=outbox_db)
        fake.delivered = {fake.message_ids[str(ids[0])]}
        await asyncio.sleep(0.05)
        assert await w.poll_reports() == 1
    finally:
        await w.stop()
    states = [r.status for r in await rows(outbox_db)]
    assert states == ["delivered", "sent", "sent"]


async def test_the_api_key_is_never_logged(
    settings: Settings, fake: FakeSms, caplog: pytest.LogCaptureFixture
) -> None:
    conf = sms_settings(settings, fake)
    assert API_KEY not in repr(conf) and API_KEY not in str(conf.model_dump())
    provider = build_provider(conf)
    assert isinstance(provider, KavenegarProvider)
    errors = []
    with caplog.at_level(logging.DEBUG):
        await provider.send(Outgoing(1, "+989121234567", "hello"))
        fake.script = [500]
        for attempt in range(2):
            try:
                await provider.send(Outgoing(2, "+989121234567", "hello"))
            except Exception as exc:
                errors.append(str(exc))
            if attempt == 0:
                await fake.stop()  # unreachable: the error names the URL
    await provider.aclose()
    assert len(errors) == 2 and "unreachable" in errors[1]
    logged = [r.getMessage() for r in caplog.records]
    assert any("HTTP Request" in m for m in logged)  # httpx did log the requests...
    assert all(API_KEY not in m for m in logged + errors)  # ...without the key
    assert any("/v1/***/sms/send.json" in m for m in logged)


async def test_when_no_provider_texts_wait(outbox_db: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"sms_quiet_hours": ""})  # whatever the hour of the run
    await queue_texts(outbox_db, settings, 1)
    assert outbox_db.sessionmaker is not None
    w = OutboxWorker(outbox_db.sessionmaker, settings, None, sweeps=False)
    assert await w.run_once() == 0
    (row,) = await rows(outbox_db)
    assert row.status == "queued" and row.next_attempt_at <= datetime.now(UTC)
