"""The period report in Chromium: Jalali months at Nowruz, the comparison with the period
before, the heat map; and the printable page (print media: only the report; printed to PDF)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from playwright.async_api import Browser, async_playwright, expect

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.supervision.test_periods import TEHRAN, call


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_the_period_report_and_its_printed_page(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
        session.add_all(
            [
                call(datetime(2026, 3, 20, 23, 30, tzinfo=TEHRAN), "answered", wait=10, talk=100),
                call(datetime(2026, 3, 21, 0, 30, tzinfo=TEHRAN), "answered", wait=40, talk=300),
                call(datetime(2026, 3, 21, 0, 40, tzinfo=TEHRAN), "abandoned", wait=30),
                call(datetime(2026, 3, 18, 10, tzinfo=TEHRAN), "answered", wait=3, talk=50),
            ]
        )
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        panel = await Panel.open(browser, port)
        page = panel.page
        await panel.sign_in("boss")
        await page.get_by_role("link", name="گزارش دوره‌ای").click()
        view = page.locator(".periods-view")
        form = view.locator("form.filters")
        await form.get_by_label("از تاریخ").fill("۱۴۰۴-۱۲-۲۹")
        await form.get_by_label("تا تاریخ").fill("1405-01-01")
        await form.get_by_label("دسته‌بندی بر اساس").select_option("jalali_month")
        await form.get_by_role("button", name="نمایش گزارش").click()
        rows = view.locator("table.periods tbody tr")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(0).locator("th")).to_have_text("۱۴۰۴-۱۲")
        await expect(rows.nth(1).locator("th")).to_have_text("۱۴۰۵-۰۱")
        await expect(rows.nth(1).locator('[data-column="offered"]')).to_have_text("۲")
        await expect(rows.nth(2).locator('[data-column="offered"]')).to_have_text("۳")
        # 3 offered now, 1 before: +2, +200 %.
        offered = view.locator('.periods-compare [data-figure="offered"]')
        await expect(offered.locator(".delta")).to_have_text("+۲ (+۲۰۰٪)")
        await expect(view.locator(".heat-answered tbody tr")).to_have_count(7)

        nav = page.locator("nav#views")
        await page.emulate_media(media="print")
        await expect(nav).to_be_hidden()
        await expect(form).to_be_hidden()
        await expect(view.locator("table.periods")).to_be_visible()
        pdf = await page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        await page.emulate_media(media="screen")
        await expect(nav).to_be_visible()
        await panel.close()
