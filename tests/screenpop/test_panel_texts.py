"""Texts (SMS) on the customer card, in a real Chromium: Tamas served by uvicorn with its
outbox worker sending to a fake Kavenegar on a real socket; the agent counts the parts of a
Persian text, sends it (a double click sends one), watches it be sent and delivered, and is
told in Persian when the number opted out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect
from pydantic import SecretStr
from sqlalchemy import text

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role, SmsOptOut
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.fixtures.sms_provider import API_KEY, FakeSms
from tests.screenpop.support import eventually, instance_settings, serving, team
from tests.screenpop.test_panel import Panel

ALI = "+989121234567"  # the customer team() makes: 0912 123 4567


@pytest.fixture
async def fake() -> AsyncIterator[FakeSms]:
    server = await FakeSms().start()
    yield server
    await server.stop()


def texting(settings: Settings, fake: FakeSms) -> Settings:
    return settings.model_copy(
        update={
            "sms_provider": "kavenegar",
            "sms_kavenegar_api_key": SecretStr(API_KEY),
            "sms_kavenegar_base_url": fake.base_url,
            "sms_kavenegar_sender": "10004346",
            "sms_quiet_hours": "",  # any hour of the day
            "sms_poll_seconds": 0.1,
            "sms_status_poll_seconds": 0.5,
            "sms_rate_per_number": 0,
        }
    )


async def test_an_agent_texts_a_customer_from_the_card(
    db: Database,
    sim: AmiSimulator,
    settings: Settings,
    browser: Browser,
    fake: FakeSms,
) -> None:
    assert db.engine is not None and db.sessionmaker is not None
    async with db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE sms_outbox, sms_opt_outs"))
    await team(db, settings)
    async with serving(texting(instance_settings(settings, db, sim), fake)) as (port, _app):
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")
        await page.keyboard.press("/")
        await page.keyboard.type("علی")
        await expect(page.locator("#results button").first).to_contain_text("علی رضایی")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        card = page.locator("#customer-body")
        texts = card.locator(".texts")
        await expect(texts).to_contain_text("پیامکی به این مشتری فرستاده نشده است.")

        await texts.get_by_text("ارسال پیامک").click()
        box = texts.get_by_label("متن پیامک")
        count = texts.locator(".sms-count")
        # 71 Persian letters: one more than a UCS-2 part holds, so two parts of 67.
        await box.fill("س" * 71)
        await expect(count).to_have_text("۷۱ نویسه، ۲ بخش؛ ۶۳ نویسه تا بخش بعد")
        await expect(texts.locator(".sms-encoding")).to_contain_text("۷۰ نویسه")
        await box.fill("Hi")
        await expect(count).to_have_text("۲ نویسه، ۱ بخش؛ ۱۵۸ نویسه تا بخش بعد")
        await expect(texts.locator(".sms-encoding")).to_contain_text("۱۶۰ نویسه")

        body = "سلام آقای رضایی، کد پیگیری شما ۱۲۳۴ ۵۶۷۸ است."
        await box.fill(body)
        await expect(count).to_contain_text("۱ بخش")
        await texts.get_by_role("button", name="ارسال", exact=True).dblclick()
        await expect(texts.get_by_role("status")).to_have_text("پیامک در صف ارسال است.")
        await expect(box).to_have_value("")
        item = texts.locator(".sms-list li")
        await expect(item).to_have_count(1)
        await expect(item.locator(".sms-body")).to_have_text(body)
        await expect(item).to_contain_text("پیامک کارشناس")
        await expect(item.locator(".number")).to_have_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        # Sent by the outbox (the list looks again by itself), then reported delivered.
        await expect(item.locator(".sms-status")).to_have_text("ارسال شد", timeout=20_000)
        await eventually(lambda: _sent(fake, 1))
        [sent] = fake.texts.values()
        assert (sent["receptor"], sent["message"]) == ("09121234567", body)
        assert fake.duplicates == 0 and sum(fake.sends.values()) == 1
        fake.delivered.update(fake.message_ids.values())
        await eventually(lambda: _delivered(db))
        # The card looks again when the customer is opened again.
        await page.keyboard.press("/")
        await page.keyboard.type("علی")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        await expect(item.locator(".sms-status")).to_have_text("رسید")

        # The number asks for no more texts: the agent is told so, and nothing is sent.
        async with unit_of_work(db.sessionmaker) as session:
            session.add(SmsOptOut(number=ALI, reason="asked on the phone"))
        if not await box.is_visible():
            await texts.get_by_text("ارسال پیامک").click()
        await box.fill("یک پیام دیگر")
        await texts.get_by_role("button", name="ارسال", exact=True).click()
        await expect(texts.locator(".form-error")).to_have_text(
            "این شماره دریافت پیامک را لغو کرده است."
        )
        await expect(item).to_have_count(1)
        assert sum(fake.sends.values()) == 1
        refused = [e for e in sara.errors if "status of 409" in e]
        assert refused, sara.errors
        sara.errors = [e for e in sara.errors if e not in refused]

        # In English the count speaks English.
        await page.get_by_role("button", name="English").click()
        await expect(texts.get_by_role("heading", name="Texts")).to_be_visible()
        await texts.get_by_label("Text", exact=True).fill("Hi")
        await expect(count).to_have_text("2 characters, 1 part(s); 158 left in this part")
        await sara.shot("40-texts")
        await sara.close()


async def _sent(fake: FakeSms, n: int) -> bool:
    return sum(fake.sends.values()) >= n


async def _delivered(db: Database) -> bool:
    assert db.engine is not None
    async with db.engine.connect() as conn:
        found = await conn.scalar(text("SELECT count(*) FROM sms_outbox WHERE status='delivered'"))
    return bool(found)


async def test_the_sms_view_turns_triggers_on_and_keeps_the_opt_outs(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.engine is not None and db.sessionmaker is not None
    async with db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE sms_opt_outs"))
        await conn.execute(text("UPDATE sms_triggers SET enabled = false"))
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.admin, username="root")
        await make_user(session, Role.supervisor, username="boss")
    async with serving(instance_settings(settings, db, sim)) as (port, _app):
        root = await Panel.open(browser, port)
        page = root.page
        await root.sign_in("root")
        await page.get_by_role("link", name="پیامک", exact=True).click()
        view = page.locator(".sms-view")
        await expect(view.get_by_role("heading", level=2)).to_have_text(
            "پیامک: ارسال خودکار و انصراف‌ها"
        )
        form = view.locator('form.sms-trigger[data-trigger="tracking_code"]')
        await expect(form.locator("h4")).to_have_text("کد پیگیری")
        await expect(form.locator(".hint")).to_have_text("متغیرها: {agent} {code} {name}")
        # A variable the trigger does not have is refused, next to its field, in Persian.
        await form.get_by_label("فعال").check()
        await form.get_by_label("متن فارسی").fill("{name} عزیز، شماره سفارش: {order}")
        await form.get_by_role("button", name="ذخیره").click()
        await expect(form.locator(".field-error")).to_have_text(
            "این متغیر برای این رویداد تعریف نشده است؛ از فهرست زیر استفاده کنید."
        )
        await form.get_by_label("متن فارسی").fill("{name} عزیز، کد پیگیری شما: {code}")
        await expect(form.locator(".sms-count").first).to_contain_text("۱ بخش")
        await form.get_by_role("button", name="ذخیره").click()
        await expect(form.get_by_role("status")).to_have_text("ذخیره شد.")
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT enabled, template_fa FROM sms_triggers"
                        " WHERE trigger = 'tracking_code'"
                    )
                )
            ).one()
        assert tuple(row) == (True, "{name} عزیز، کد پیگیری شما: {code}")

        # A number asks for no texts; then it is taken off the list.
        optouts = view.locator(".opt-out-form")
        await optouts.get_by_label("شماره همراه").fill("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        await optouts.get_by_label("علت").fill("تلفنی خواست")
        await optouts.get_by_role("button", name="افزودن به فهرست").click()
        listed = view.locator(".opt-out-list li")
        await expect(listed).to_have_count(1)
        await expect(listed).to_have_attribute("data-number", ALI)
        await expect(listed.locator(".number")).to_have_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        await listed.get_by_role("button", name="حذف ۰۹۱۲ ۱۲۳ ۴۵۶۷ از فهرست").click()
        await expect(view.get_by_text("شماره‌ای در این فهرست نیست.")).to_be_visible()
        refused = [e for e in root.errors if "status of 422" in e]
        assert refused, root.errors
        root.errors = [e for e in root.errors if e not in refused]
        await root.shot("42-sms-view")
        await root.close()

        # A supervisor reads the triggers and cannot change them.
        boss = await Panel.open(browser, port)
        await boss.sign_in("boss")
        await boss.page.get_by_role("link", name="پیامک", exact=True).click()
        mine = boss.page.locator('.sms-view form.sms-trigger[data-trigger="tracking_code"]')
        await expect(mine.get_by_label("فعال")).to_be_checked()
        await expect(mine.get_by_label("فعال")).to_be_disabled()
        await expect(mine.get_by_role("button", name="ذخیره")).to_have_count(0)
        await expect(boss.page.locator(".sms-view")).to_contain_text(
            "فقط مدیر سامانه می‌تواند این‌ها را تغییر دهد."
        )
        await boss.close()
