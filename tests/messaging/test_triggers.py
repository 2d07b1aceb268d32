"""What queues a text, in the transaction of its cause: tracking codes (an agent's and the
automatic ones), missed calls, callbacks taken, contracts ending, an agent's own text; and
what stops or holds one: a trigger off, an opt-out, the rate limit, quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, SmsHttpSettings
from app.db import Database, unit_of_work
from app.messaging.providers import HttpProvider, Outgoing, ProviderError
from app.messaging.repository import OutboxRepository
from app.messaging.service import MessagingService, Text
from app.messaging.timing import in_quiet_hours, next_allowed
from app.messaging.worker import OutboxWorker
from app.models import Contract, Role, SmsMessage
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.fixtures.sms_provider import API_KEY, FakeSms
from tests.messaging.conftest import sms_settings
from tests.telephony.replay import replay


async def texts(session: AsyncSession) -> list[SmsMessage]:
    return list((await session.execute(select(SmsMessage).order_by(SmsMessage.id))).scalars())


async def headers(session: AsyncSession, settings: Settings, role: Role) -> dict[str, str]:
    user = await make_user(session, role)
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


async def test_an_agents_tracking_code_is_texted_with_the_template(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await headers(session, settings, Role.admin)
    bad = {"enabled": True, "template_fa": "کد {code} برای {nobody}", "template_en": ""}
    r = await client.put("/api/sms/triggers/tracking_code", json=bad, headers=admin)
    assert r.status_code == 422 and "{nobody}" in r.json()["error"]["message"]
    good = {"enabled": True, "template_fa": "{name} عزیز، کد پیگیری: {code}", "template_en": "x"}
    r = await client.put("/api/sms/triggers/tracking_code", json=good, headers=admin)
    assert r.status_code == 200 and r.json()["variables"] == ["agent", "code", "name"]
    assert (await client.put("/api/sms/triggers/nope", json=good, headers=admin)).status_code == 404

    ali = await make_customer(session, settings, "علی رضایی", ("02188776655", "0912 123 4567"))
    agent = await headers(session, settings, Role.agent)
    r = await client.post("/api/tracking-codes", json={"customer_id": ali.id}, headers=agent)
    assert r.status_code == 201
    code = r.json()["code"]
    (sms,) = await texts(session)
    # To the mobile (not the landline listed first), the template filled in.
    assert (sms.number, sms.body, sms.trigger) == (
        "+989121234567",
        f"علی رضایی عزیز، کد پیگیری: {code}",
        "tracking_code",
    )
    assert sms.status == "queued" and sms.customer_id == ali.id
    timeline = (await client.get(f"/api/customers/{ali.id}/sms", headers=agent)).json()
    assert [(t["id"], t["status"]) for t in timeline] == [(sms.id, "queued")]


async def test_calls_queue_texts_once_in_the_listeners_transaction(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    repo = OutboxRepository(session)
    await repo.put_trigger("tracking_code", True, "کد شما {code}، کارشناس {agent}", "")
    await repo.put_trigger("missed_call", True, "تماس شما ({number}) بی‌پاسخ ماند", "")
    await repo.put_trigger("callback_scheduled", True, "{agent} با شما تماس می‌گیرد", "")
    app.state.sms_triggers.forget()  # as PUT /api/sms/triggers/... does
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    ali = await make_customer(session, settings, "علی رضایی", ("0912 123 4567",))
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, answered = replay("A1_persian_name_direct_answered")  # auto-issued code
    _, abandoned = replay("05_queue_abandoned")  # a mobile gave up waiting
    _, missed = replay("02_direct_noanswer")  # a landline: no text can reach it
    for events in (answered, abandoned, missed, answered, abandoned):  # each seen twice
        await recorder(events)
    first, second = await texts(session)
    assert (first.trigger, first.number, first.customer_id) == (
        "tracking_code",
        "+989121234567",
        ali.id,
    )
    assert first.body.startswith("کد شما ") and first.body.endswith(f"کارشناس {sara.full_name}")
    assert (second.trigger, second.number, second.body) == (
        "missed_call",
        "+989187654321",
        "تماس شما (09187654321) بی‌پاسخ ماند",
    )
    # An agent takes the callback: the customer is told who will call.
    h = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    (owed,) = [c for c in (await client.get("/api/callbacks", headers=h)).json() if c["queue"]]
    assert (await client.post(f"/api/callbacks/{owed['id']}/claim", headers=h)).status_code == 200
    third = (await texts(session))[2]
    assert (third.trigger, third.body) == (
        "callback_scheduled",
        f"{sara.full_name} با شما تماس می‌گیرد",
    )


async def test_contracts_ending_are_texted_once(session: AsyncSession, settings: Settings) -> None:
    await OutboxRepository(session).put_trigger(
        "contract_expiring", True, "{name} عزیز، قرارداد {level} شما {date} تمام می‌شود", "{date}"
    )
    today = date(2026, 12, 7)
    ali = await make_customer(session, settings, "علی رضایی", ("09121234567",))
    other = await make_customer(session, settings, "سارا", ("09351112233",))
    session.add_all(
        [
            Contract(customer_id=ali.id, level="طلایی", starts_on=date(2026, 1, 1),
                     ends_on=date(2026, 12, 14)),
            Contract(customer_id=other.id, level="x", starts_on=date(2026, 1, 1),
                     ends_on=date(2026, 12, 20)),
        ]
    )  # fmt: skip
    await session.flush()
    service = MessagingService(session, settings)
    assert await service.contracts_expiring(today) == 1
    assert await service.contracts_expiring(today) == 0  # the next sweep, another instance
    (sms,) = await texts(session)
    assert sms.body == "علی رضایی عزیز، قرارداد طلایی شما 1405/09/23 تمام می‌شود"


async def test_opt_out_stops_texts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    agent = await headers(session, settings, Role.agent)
    supervisor = await headers(session, settings, Role.supervisor)
    send = {"body": "سلام", "number": "09121234567"}
    r = await client.post("/api/sms", json=send, headers=agent)
    assert r.status_code == 201 and r.json()["status"] == "queued"
    r = await client.post("/api/sms/opt-outs", json={"number": "+98 912 123 4567"}, headers=agent)
    assert r.status_code == 201 and r.json()["number"] == "+989121234567"
    (queued,) = await texts(session)
    await session.refresh(queued)
    assert (queued.status, queued.last_error) == ("cancelled", "opted out")
    r = await client.post("/api/sms", json=send, headers=agent)
    assert r.status_code == 409 and r.json()["error"]["code"] == "opted_out"
    # A trigger's text is kept as cancelled: the customer's timeline says why.
    auto = await MessagingService(session, settings).queue(
        Text("manual", "auto-1", "09121234567", {}, body="x")
    )
    assert auto is not None and (auto.status, auto.last_error) == ("cancelled", "opted out")
    listed = (await client.get("/api/sms/opt-outs", headers=supervisor)).json()
    assert [o["number"] for o in listed] == ["+989121234567"]
    assert (
        await client.delete("/api/sms/opt-outs/09121234567", headers=supervisor)
    ).status_code == 204
    assert (await client.post("/api/sms", json=send, headers=agent)).status_code == 201


async def test_rate_limit_per_number(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    conf = settings.model_copy(update={"sms_rate_per_number": 2, "sms_rate_window_minutes": 60})
    app.state.settings = conf
    try:
        agent = await headers(session, conf, Role.agent)
        send = {"body": "سلام", "number": "09121234567"}
        for _ in range(2):
            assert (await client.post("/api/sms", json=send, headers=agent)).status_code == 201
        r = await client.post("/api/sms", json=send, headers=agent)
        assert r.status_code == 429 and "Retry-After" in r.headers
        other = {"body": "سلام", "number": "09351112233"}
        assert (await client.post("/api/sms", json=other, headers=agent)).status_code == 201
        auto = await MessagingService(session, conf).queue(
            Text("manual", "auto-2", "09121234567", {}, body="x")
        )
        assert auto is not None and (auto.status, auto.last_error) == ("cancelled", "rate limited")
        # The same request twice (a retry after a lost answer) sends once.
        once = {**send, "number": "09131112233"}
        key = {**agent, "Idempotency-Key": "req-1"}
        assert (await client.post("/api/sms", json=once, headers=key)).status_code == 201
        r = await client.post("/api/sms", json=once, headers=key)
        assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate"
        bad = {"body": "x", "number": "02188776655"}
        assert (await client.post("/api/sms", json=bad, headers=agent)).status_code == 422
    finally:
        app.state.settings = settings


def test_quiet_hours_window() -> None:
    tz = "Asia/Tehran"  # UTC+3:30
    at = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
    assert in_quiet_hours(at, "22:00-08:00", tz)
    assert next_allowed(at, "22:00-08:00", tz) == datetime(2026, 12, 8, 4, 30, tzinfo=UTC)
    early = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 05:30
    assert next_allowed(early, "22:00-08:00", tz) == datetime(2026, 12, 7, 4, 30, tzinfo=UTC)
    day = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 12:30
    assert next_allowed(day, "22:00-08:00", tz) == day
    assert next_allowed(day, "12:00-13:00", tz) == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert next_allowed(at, "", tz) == at


async def test_quiet_hours_hold_texts_until_they_end(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    local = datetime.now(ZoneInfo(settings.time_zone))
    window = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    conf = sms_settings(settings, fake, sms_quiet_hours=window)
    assert outbox_db.sessionmaker is not None
    async with unit_of_work(outbox_db.sessionmaker) as session:
        sms = await MessagingService(session, conf).queue(
            Text("manual", "quiet", "09121234567", {}, body="صبح بخیر")
        )
    assert sms is not None
    opens = next_allowed(datetime.now(UTC), window, conf.time_zone)
    assert timedelta(minutes=50) < sms.next_attempt_at - datetime.now(UTC) <= timedelta(hours=1)
    assert abs((sms.next_attempt_at - opens).total_seconds()) < 5
    # The worker sends nothing in quiet hours, even what was due before they began.
    async with unit_of_work(outbox_db.sessionmaker) as session:
        await MessagingService(session, conf).queue(
            Text("manual", "due", "09121234567", {}, body="x")
        )
        await session.execute(
            SmsMessage.__table__.update()
            .where(SmsMessage.idempotency_key == "due")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(hours=2))
        )
    from app.messaging.providers import build_provider

    worker = OutboxWorker(outbox_db.sessionmaker, conf, build_provider(conf), sweeps=False)
    try:
        assert await worker.run_once() == 0
        # Outside them it goes.
        open_conf = conf.model_copy(update={"sms_quiet_hours": ""})
        worker.settings = open_conf
        assert await worker.run_once() == 1
    finally:
        await worker.stop()
    assert fake.requests == 1


async def test_delivery_callback(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    sms = SmsMessage(
        idempotency_key="dlr", number="+989121234567", body="x", trigger="manual",
        status="sent", provider="kavenegar", provider_message_id="8792343",
    )  # fmt: skip
    session.add(sms)
    await session.flush()
    path = "/sms/delivery/kavenegar"
    assert (
        await client.post(path, data={"messageid": "8792343", "status": "10"})
    ).status_code == 401
    app.state.settings = settings.model_copy(update={"sms_callback_token": SecretStr("cb-token")})
    try:
        r = await client.post(f"{path}?token=wrong", data={"messageid": "8792343", "status": "10"})
        assert r.status_code == 401
        r = await client.post(
            f"{path}?token=cb-token", data={"messageid": "8792343", "status": "77"}
        )
        assert r.status_code == 422
        r = await client.post(
            f"{path}?token=cb-token", data={"messageid": "8792343", "status": "10"}
        )
        assert (r.status_code, r.text) == (200, "ok")
    finally:
        app.state.settings = settings
    await session.refresh(sms)
    assert sms.status == "delivered" and sms.delivered_at is not None


async def test_the_generic_http_adapter(fake: FakeSms) -> None:
    conf = SmsHttpSettings(
        url=f"{fake.base_url}/generic/send",
        headers={"Authorization": "Bearer {api_key}"},
        body='{{"to": "{national}", "text": "{text}", "ref": "{local_id}"}}',
        id_path="data.messageId",
        ok_path="status",
        ok_value="1",
        api_key=SecretStr(API_KEY),
        deduplicates=True,
    )
    provider = HttpProvider(conf, timeout=2, concurrency=2)
    try:
        text = 'قیمت "ویژه"\nفردا'  # quotes and a newline stay inside the JSON string
        sent = await provider.send(Outgoing(7, "+989121234567", text))
        assert sent.message_id == str(fake.message_ids["7"])
        assert fake.texts["7"] == {"receptor": "09121234567", "message": text}
        fake.script = [503]
        try:
            await provider.send(Outgoing(8, "+989121234567", "x"))
            raise AssertionError("a 503 is an error")
        except ProviderError as exc:
            assert exc.retryable and API_KEY not in str(exc)
    finally:
        await provider.aclose()
    wrong = HttpProvider(conf.model_copy(update={"api_key": SecretStr("nope")}), timeout=2,
                         concurrency=1)  # fmt: skip
    try:
        await wrong.send(Outgoing(9, "+989121234567", "x"))
        raise AssertionError("a wrong key is an error")
    except ProviderError as exc:
        assert "401" in str(exc)
    finally:
        await wrong.aclose()
    await asyncio.sleep(0)
