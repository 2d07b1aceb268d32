""" "Today" is the call center's day (TAMAS_TIME_ZONE), not the browser's: a browser whose
clock is set to another zone (here 25 hours away, so the two dates always differ) still
opens the reports and the history on the call center's date, in a real Chromium."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import PASSWORD, make_user
from tests.screenpop.support import instance_settings, serving

CENTER = "Pacific/Kiritimati"  # UTC+14
BROWSER = "Pacific/Pago_Pago"  # UTC-11


async def test_the_reports_open_on_the_call_centers_day(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.supervisor, username="boss")
    conf = instance_settings(settings, db, sim).model_copy(update={"time_zone": CENTER})
    async with serving(conf) as (port, _app):
        context = await browser.new_context(locale="en-US", timezone_id=BROWSER)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.get_by_role("button", name="English").click()
        await page.get_by_label("Username").fill("boss")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page.locator("#app")).to_be_visible()
        center = datetime.now(ZoneInfo(CENTER)).date().isoformat()
        browser_day = await page.evaluate(
            "() => new Date().toLocaleDateString('en-CA')"  # YYYY-MM-DD in the browser's zone
        )
        assert browser_day != center  # the premise: the two days differ
        await page.get_by_role("link", name="Reports").click()
        form = page.locator(".reports-view form.filters")
        await expect(form.locator('input[name="to"]')).to_have_value(center)
        await context.close()
        assert errors == []
