"""The panel and the supervisor pages as people use them, in a real Chromium: every page at
1366x768 and on a phone without a script error, a one-row sticky top bar; the history's
compact filter bar with its date presets, numbers in one display form, hangup causes and
server errors in Persian; the KPI table's days in the reader's calendar, its total, "1 row",
date inputs that follow the language; ended pop cards folded to one line, live timers;
reviews given while the agent was away, and note drafts that survive a reload."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import PASSWORD, make_token, make_user
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    replay,
    serving,
    team,
)
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.telephony.traces import AMI_DIR

VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def opened(browser: Browser, port: int, viewport: dict[str, int]) -> Panel:
    context = await browser.new_context(
        locale="fa-IR",
        timezone_id="Asia/Tehran",
        viewport=viewport,  # type: ignore[arg-type]
    )
    panel = Panel(await context.new_page())
    await panel.page.goto(f"http://127.0.0.1:{port}/")
    return panel


async def top_bar(page: Page) -> dict[str, float]:
    return await page.evaluate(
        """() => {
          const bar = document.querySelector(".topbar");
          const row = [...bar.children].filter((el) => el.offsetParent !== null);
          // One row: every part's middle within a button's height of the others'.
          const mids = row.map((el) => {
            const box = el.getBoundingClientRect();
            return box.top + box.height / 2;
          });
          return {top: bar.getBoundingClientRect().top, height: bar.offsetHeight,
                  spread: Math.max(...mids) - Math.min(...mids)};
        }"""
    )


async def test_every_page_at_a_laptop_and_a_phone_size(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        for trace in ("01_direct_answered", "02_direct_noanswer", "04_queue_answered"):
            await replay(sim, trace)
        for name, viewport in VIEWPORTS.items():
            for who in ("sara", "boss"):
                panel = await opened(browser, port, viewport)
                page = panel.page
                await panel.sign_in(who)
                views = ["panel", "history", "reports"] + (["wallboard"] if who == "boss" else [])
                for view in views:
                    await page.goto(f"http://127.0.0.1:{port}/#{view}")
                    await page.wait_for_load_state("networkidle")
                    if view == "history":
                        await expect(page.locator(".history-list tbody tr").first).to_be_visible()
                    bar = await top_bar(page)
                    assert bar["spread"] < 16 and bar["height"] < 64, (name, who, view, bar)
                    # Sticky: scrolled down, the bar is still at the top.
                    await page.mouse.wheel(0, 2000)
                    await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                    assert (await top_bar(page))["top"] == 0, (name, who, view)
                    await page.evaluate("window.scrollTo(0, 0)")
                    await panel.shot(f"40-{name}-{who}-{view}")
                    if view == "wallboard":
                        board = page.locator(".wallboard")
                        await expect(board.locator(".wall-agents li").first).to_contain_text(
                            "تماس امروز"
                        )
                        # TV mode: the board alone on the screen, in big letters.
                        tv = board.get_by_role("button", name="حالت تلویزیون")
                        await tv.click()
                        await expect(tv).to_have_attribute("aria-pressed", "true")
                        await expect(board).to_have_class(re.compile(r"\btv\b"))
                        box = await board.bounding_box()
                        assert box is not None and box["width"] >= viewport["width"] - 20
                        await panel.shot(f"41-{name}-tv")
                        await tv.click()
                        await expect(board).not_to_have_class(re.compile(r"\btv\b"))
                await panel.close()  # no script error, no console error


async def test_the_history_and_the_reports_speak_the_readers_language(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.supervisor, username="boss")
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        await replay(sim, "01_direct_answered")
        boss = await opened(browser, port, VIEWPORTS["laptop"])
        page = boss.page
        await boss.sign_in("boss")
        await page.get_by_role("link", name="تاریخچه").click()
        form = page.locator("form.filters")
        rows = page.locator(".history-list tbody tr")
        await expect(rows).to_have_count(1)
        # The number as the pops show it, one line per call.
        await expect(rows.first).to_contain_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        assert await rows.first.evaluate("(tr) => tr.offsetHeight") < 40
        # The hint's example dates read left to right inside the Persian sentence.
        hint = await form.locator(".filter-bar .hint").first.text_content()
        assert hint is not None and "\u2066۱۴۰۵-۰۹-۰۲\u2069" in hint
        # A preset fills the days, in Jalali with Persian digits, and searches.
        await form.get_by_role("button", name="امروز").click()
        value = await form.get_by_label("از تاریخ").input_value()
        assert re.fullmatch("۱۴[۰-۹]{2}-[۰-۹]{2}-[۰-۹]{2}", value), value
        assert await form.get_by_label("تا تاریخ").input_value() == value
        await expect(rows).to_have_count(1)
        await form.get_by_role("button", name="این ماه").click()
        assert (await form.get_by_label("از تاریخ").input_value()).endswith("-۰۱")
        # A bad date: the server's error, in Persian.
        await form.get_by_label("تا تاریخ").fill("1405-13-40")
        await form.get_by_role("button", name="جستجو").click()
        error = form.locator(".field-error")
        await expect(error).to_contain_text("تاریخ نادرست است")
        await expect(error).not_to_contain_text("not a date")
        await form.get_by_role("button", name="پاک کردن فیلترها").click()
        # The call opened: in view, its hangup cause in words.
        await rows.first.get_by_role("button").click()
        view = page.locator(".call-view")
        await expect(view.locator("dl.facts")).to_contain_text("پایان عادی")
        await expect(view).not_to_contain_text("Normal Clearing")
        await expect(view.get_by_role("heading", level=3)).to_be_in_viewport()

        # The reports: days in the Jalali calendar, a total, the dates follow the language.
        await page.get_by_role("link", name="گزارش‌ها").click()
        report = page.locator(".reports-view")
        rform = report.locator("form.filters")
        await rform.get_by_label("دسته‌بندی بر اساس").select_option("day")
        await rform.get_by_role("button", name="امروز").click()
        table = report.locator(".kpi")
        await expect(table.locator("tbody tr")).to_have_count(1)
        await expect(table.locator("tbody th")).to_have_text(re.compile("۱۴[۰-۹]{2}"))
        await expect(table.locator("tfoot th")).to_have_text("جمع")
        await expect(table.locator('tfoot [data-col="offered"]')).to_have_text("۱")
        await page.get_by_role("button", name="English").click()
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", await rform.get_by_label("From").input_value())
        await expect(report.locator("p[role=status]").first).to_have_text("1 row")
        await expect(table.locator("tbody th")).to_have_text(re.compile("20[0-9]{2}"))
        await page.get_by_role("button", name="فارسی").click()
        assert re.fullmatch("۱۴.*", await rform.get_by_label("از تاریخ").input_value())
        refusals = [e for e in boss.errors if "status of 422" in e]
        assert len(refusals) == 1
        boss.errors = [e for e in boss.errors if e not in refusals]
        await boss.close()


async def test_folded_cards_timers_unread_reviews_and_note_drafts(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss_token = await make_token(session, settings, boss)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await opened(browser, port, VIEWPORTS["laptop"])
        page = sara.page
        await sara.sign_in("sara")
        cards = page.locator("#pop-list > li")

        # A live call: its talk timer counts; a note started is kept over a reload.
        name = "01_direct_answered"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, "Event: HangupRequest")
        )
        await replaying.wait()
        first = cards.first
        await expect(first).to_have_attribute("data-state", "answered")
        timer = first.locator(".timer")
        await expect(timer).to_have_text(re.compile("^[۰-۹]+:[۰-۹]{2}$"))
        await first.get_by_role("textbox", name="یادداشت").fill("مشتری منتظر پیش‌فاکتور است")
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        note = cards.first.get_by_role("textbox", name="یادداشت")
        await expect(note).to_have_value("مشتری منتظر پیش‌فاکتور است")
        replaying.resume()
        await replaying.wait()
        await expect(cards.first).to_have_attribute("data-state", "ended")
        await cards.first.get_by_role("button", name="ثبت یادداشت").click()
        await expect(cards.first.get_by_role("textbox", name="یادداشت")).to_have_value("")

        # The next call comes: the ended card folds to one line, and opens on demand.
        await replay(sim, "A1_persian_name_direct_answered")
        await expect(cards).to_have_count(2)
        older = cards.nth(1)
        await expect(older).to_have_attribute("data-folded", "true")
        assert await older.evaluate("(li) => li.offsetHeight") < 60
        await expect(older.locator(".pop-body")).to_be_hidden()
        unfold = older.get_by_role("button", name="جزئیات")
        await expect(unfold).to_have_attribute("aria-expanded", "false")
        await unfold.click()
        await expect(older.locator(".pop-body")).to_be_visible()
        await expect(cards.first).to_have_attribute("data-folded", "false")

        # A review given while Sara is signed out waits for her.
        await page.get_by_role("button", name="خروج").click()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            h = {"Authorization": f"Bearer {boss_token}"}
            found = await client.get("/api/history", headers=h)
            call_id = next(
                c["id"] for c in found.json()["items"] if c["linkedid"] and c["answered_by"]
            )
            r = await client.post(
                f"/api/calls/{call_id}/reviews", json={"score": 5, "comment": "عالی"}, headers=h
            )
            assert r.status_code == 201
        await page.get_by_label("نام کاربری").fill("sara")
        await page.get_by_label("گذرواژه").fill(PASSWORD)
        await page.get_by_role("button", name="ورود", exact=True).click()
        notice = page.locator(".review-notice")
        await expect(notice).to_contain_text("عالی")
        await notice.get_by_role("button", name="بستن").click()
        await expect(notice).to_have_count(0)
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        await expect(page.locator("#review-notices")).to_be_hidden()
        await sara.close()
