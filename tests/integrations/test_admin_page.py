"""The admins' integrations view in a real Chromium: a webhook URL added (its secret shown
once), a delivery that failed until it was dead shown in the log with the endpoint's status
code, sent again from its row and delivered; the view is offered to admins only.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.integrations import events as ev
from app.integrations.service import emit
from app.models import Role, WebhookEndpoint
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.integrations.receiver import Receiver, eventually, receiving
from tests.screenpop.support import follows, instance_settings, serving
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_an_admin_adds_a_url_reads_the_log_and_sends_a_dead_delivery_again(
    db: Database, sim: AmiSimulator, fast: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.admin, username="root", devices=["PJSIP/1009"])
        await make_user(session, Role.supervisor, username="boss")
    async with (
        receiving(Receiver(default=500)) as receiver,
        serving(instance_settings(fast, db, sim)) as (port, app),
    ):
        await eventually(lambda: follows(app))
        admin = await Panel.open(browser, port)
        page = admin.page
        await admin.sign_in("root")
        link = page.get_by_role("link", name="یکپارچه‌سازی")
        await expect(link).to_be_visible()
        await link.click()
        view = page.locator(".integrations-view")
        await expect(view.get_by_role("heading", name="یکپارچه‌سازی: وب‌هوک‌ها")).to_be_visible()
        await expect(view.get_by_text("هنوز نشانی‌ای ثبت نشده است.")).to_be_visible()

        # No event picked: the API's refusal shown on the form, in Persian.
        form = view.locator("form.webhook-form")
        await form.get_by_label("نشانی (URL)").fill(receiver.url)
        await form.get_by_role("button", name="افزودن نشانی").click()
        await expect(form.locator(".form-error, .field-error").first).to_contain_text(
            "پذیرفته نیست"
        )
        # The browser logs the refused request; nothing else went wrong.
        assert [e for e in admin.errors if "422" not in e] == []
        admin.errors.clear()
        await form.get_by_label(ev.CALLBACK_CREATED).check()
        await form.get_by_label("توضیح").fill("حسابداری")
        await form.get_by_role("button", name="افزودن نشانی").click()
        async with db.sessionmaker() as session:

            async def registered() -> bool:
                found = (await session.execute(select(WebhookEndpoint))).scalars().all()
                await session.rollback()
                return len(found) == 1

            await eventually(registered)
            endpoint = (await session.execute(select(WebhookEndpoint))).scalar_one()
        await expect(view.locator(".webhook-secret code")).to_have_text(endpoint.secret)
        item = view.locator(f'.webhook[data-id="{endpoint.id}"]')
        await expect(item).to_contain_text(receiver.url)
        await expect(item).to_contain_text("حسابداری")
        assert endpoint.secret not in await item.inner_text()

        # An event the endpoint refuses every time: dead after the last try.
        async with unit_of_work(db.sessionmaker) as session:
            event = ev.envelope(ev.CALLBACK_CREATED, {"callback_id": 7, "number": "+98912"})
            await emit(session, [event])

        async def tried_out() -> bool:
            return len(receiver.received) >= fast.webhook_max_attempts

        await eventually(tried_out)
        row = view.locator("tr[data-status]").first

        async def shows(status: str) -> bool:
            await view.get_by_role("button", name="تازه‌سازی").click()
            await page.wait_for_timeout(50)
            return await row.get_attribute("data-status") == status

        await eventually(lambda: shows("dead"))
        await expect(row.locator(".status")).to_have_text("ناموفق (کنار گذاشته شد)")
        await expect(row.locator(".code")).to_have_text("۵۰۰")
        await expect(row.locator(".error")).to_contain_text("HTTP 500")
        await admin.shot("integrations-dead")

        # The endpoint is fixed; sent again from the log: a new delivery, delivered.
        receiver.default = 200
        await row.get_by_role("button", name="ارسال دوباره").click()
        await expect(view.get_by_text("دوباره در صف ارسال گذاشته شد.")).to_be_visible()
        await eventually(lambda: shows("delivered"))
        assert receiver.event_ids(200) == [event.id]
        await expect(view.locator("tr[data-status]")).to_have_count(2)
        await expect(item).to_contain_text("رسیده ۱")

        # English too.
        await page.get_by_role("button", name="English").first.click()
        await expect(view.get_by_role("heading", name="Integrations: webhooks")).to_be_visible()
        await expect(row.locator(".status")).to_have_text("delivered")
        await admin.close()

        # A supervisor is not offered the view, and its address shows the panel.
        boss = await Panel.open(browser, port)
        await boss.sign_in("boss")
        await expect(boss.page.get_by_role("link", name="یکپارچه‌سازی")).to_be_hidden()
        await boss.page.goto(f"http://127.0.0.1:{port}/#integrations")
        await expect(boss.page.locator("#panes")).to_be_visible()
        await expect(boss.page.locator(".integrations-view")).to_have_count(0)
        await boss.close()
