"""The supervisor views of the panel in a real Chromium: the call history filtered (by a
Jalali day, by outcome, by agent), a call opened with its timeline and its recording
played, the filtered list downloaded as CSV, a review the agent sees live, the KPI report's
table equal to the API's and its charts drawn, the wallboard following a queue call; and an
agent offered only their own history and figures.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import jdatetime
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Call, Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
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
from tests.screenpop.test_panel_recordings import ANSWERED, recording, tone
from tests.telephony.traces import AMI_DIR

FA = str.maketrans("۰۱۲۳۴۵۶۷۸۹٫٬", "0123456789.,")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


def latin(text: str) -> str:
    return text.translate(FA).replace(",", "")


async def stored_calls(db: Database) -> list[Call]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        return list((await session.execute(select(Call).order_by(Call.id))).scalars())


async def rows(page: Page) -> int:
    return await page.locator(".history-list tbody tr").count()


async def search(page: Page, **fields: str) -> None:
    form = page.locator("form.filters")
    for label, value in fields.items():
        await form.get_by_label(label, exact=True).fill(value)
    await form.get_by_role("button", name="جستجو").click()


async def test_a_supervisor_works_through_history_reports_and_wallboard(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
        boss_token = await make_token(session, settings, boss)
    root = tmp_path / "recordings"
    root.mkdir()
    tone(root / ANSWERED)
    conf = instance_settings(settings, db, sim).model_copy(update={"recordings_root": root})
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        for trace in ("01_direct_answered", "02_direct_noanswer", "03_direct_busy"):
            await replay(sim, trace)

        async def recorded() -> bool:
            found = await recording(db, ANSWERED)
            return found is not None and found.state == "available"

        await eventually(recorded)
        calls = await stored_calls(db)
        answered = next(c for c in calls if c.outcome == "answered")
        zone = ZoneInfo(settings.time_zone)
        day = jdatetime.date.fromgregorian(date=answered.started_at.astimezone(zone).date())
        jalali = f"{day.year}-{day.month:02d}-{day.day:02d}"
        after = day + jdatetime.timedelta(days=1)
        next_day = f"{after.year}/{after.month}/{after.day}".translate(
            str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
        )

        sara = await Panel.open(browser, port)
        await sara.sign_in("sara")
        boss_panel = await Panel.open(browser, port)
        page = boss_panel.page
        await boss_panel.sign_in("boss")
        # A supervisor without a phone lands on the wallboard, not an empty agent panel.
        await expect(page.locator(".wallboard")).to_be_visible()
        await expect(page.get_by_role("link", name="تابلوی زنده")).to_have_attribute(
            "aria-current", "page"
        )
        assert page.url.endswith("#wallboard")

        # The history: every call, then a Jalali day, an outcome, an agent.
        await page.get_by_role("link", name="تاریخچه").click()
        await expect(page.get_by_role("heading", name="تاریخچه تماس‌ها")).to_be_focused()
        await expect(page.locator(".history-list tbody tr")).to_have_count(len(calls))
        await expect(page.get_by_role("link", name="تاریخچه")).to_have_attribute(
            "aria-current", "page"
        )
        # A missed call's reason: a column of its own and a filter (03: the agent declined).
        more = page.locator("form.filters details.more-filters")

        async def more_filters() -> None:  # folded under "more filters": opened when closed
            if not await more.evaluate("d => d.open"):
                await more.get_by_text("فیلترهای بیشتر").click()
            await expect(more).to_have_attribute("open", "")

        await more_filters()
        reasons = page.locator("form.filters fieldset", has_text="علت از دست رفتن")
        await reasons.get_by_label("رد شده").check()
        await page.locator("form.filters").get_by_role("button", name="جستجو").click()
        await expect(page.locator(".history-list tbody tr")).to_have_count(1)
        await expect(page.locator(".history-list td[data-reason=declined]")).to_have_text("رد شده")
        await expect(page.locator(".history-list thead")).to_contain_text("علت")
        await reasons.get_by_label("رد شده").uncheck()
        await search(page, **{"از تاریخ": jalali, "تا تاریخ": jalali})
        await expect(page.locator(".history-list tbody tr")).to_have_count(len(calls))
        await search(page, **{"از تاریخ": next_day, "تا تاریخ": next_day})
        await expect(page.get_by_text("تماسی با این فیلترها نیست.")).to_be_visible()
        await search(page, **{"از تاریخ": jalali, "تا تاریخ": ""})
        await more_filters()
        await page.locator("form.filters").get_by_label("پاسخ داده شد").check()
        await page.locator("form.filters").get_by_role("button", name="جستجو").click()
        await expect(page.locator(".history-list tbody tr")).to_have_count(1)
        await (
            page.locator("form.filters")
            .get_by_label("کارشناس", exact=True)
            .select_option(label="سارا احمدی")
        )
        await page.locator("form.filters").get_by_role("button", name="جستجو").click()
        await expect(page.locator(".history-list tbody tr")).to_have_count(1)
        await expect(page.locator(".history-list tbody tr")).to_contain_text("سارا احمدی")

        # A bad date is told next to its field, nothing else lost.
        await search(page, **{"تا تاریخ": "1405-13-40"})
        await expect(page.locator("form.filters .field-error")).to_be_visible()
        await search(page, **{"تا تاریخ": ""})
        await expect(page.locator(".history-list tbody tr")).to_have_count(1)

        # The filtered list as CSV: the same rows.
        async with page.expect_download() as downloading:
            await page.get_by_role("button", name="دریافت CSV").click()
        download = await downloading.value
        saved = Path(await download.path())
        text = await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
        exported = list(csv.DictReader(io.StringIO(text)))
        assert [int(r["id"]) for r in exported] == [answered.id]

        # The call: its timeline, and its recording played.
        await page.locator(".history-list tbody tr").first.get_by_role("button").click()
        view = page.locator(".call-view")
        await expect(view.get_by_role("heading", level=3)).to_be_focused()
        timeline = view.locator(".timeline")
        await expect(timeline).to_contain_text("پاسخ توسط سارا احمدی")
        await expect(timeline).to_contain_text("پایان تماس")
        await expect(view).not_to_contain_text("[object")
        await expect(view).not_to_contain_text("null")
        player = view.get_by_role("group", name=re.compile("ضبط مکالمه"))
        await player.get_by_role("button", name=re.compile("پخش")).click()
        await expect(player.get_by_role("button", name=re.compile("مکث"))).to_be_visible()
        seek = player.get_by_role("slider")
        await expect(seek).not_to_have_attribute("aria-valuetext", re.compile("^۰:۰۰ از"))
        await boss_panel.shot("30-call-view")

        # A review: the agent who took the call sees it at once.
        await view.get_by_label("امتیاز", exact=True).select_option("4")
        await view.get_by_label("توضیح").fill("خوش‌برخورد بودید؛ کد پیگیری را هم بگویید.")
        await view.get_by_role("button", name="ثبت بازخورد").click()
        await expect(view.locator(".review-list")).to_contain_text("امتیاز ۴ از ۵")
        notice = sara.page.locator(".review-notice")
        await expect(notice).to_contain_text("بازخورد نگار سرپرست")
        await expect(notice).to_contain_text("کد پیگیری را هم بگویید")
        await notice.get_by_role("button", name="نمایش تماس").click()
        await expect(sara.page.locator("#customer-body .call-reviews")).to_contain_text(
            "امتیاز ۴ از ۵"
        )
        await sara.shot("31-review-notice")

        # The KPI report: the table's figures are the API's; the charts drawn.
        await page.get_by_role("link", name="گزارش‌ها").click()
        await expect(page.get_by_role("heading", name="گزارش شاخص‌ها")).to_be_focused()
        form = page.locator(".reports-view form.filters")
        await form.get_by_label("از تاریخ").fill(jalali)
        await form.get_by_label("تا تاریخ").fill(jalali)
        await form.get_by_label("دسته‌بندی بر اساس").select_option("agent")
        await form.get_by_role("button", name="نمایش گزارش").click()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get(
                "/api/reports/kpi",
                params={"from": jalali, "to": jalali, "by": "agent"},
                headers={"Authorization": f"Bearer {boss_token}"},
            )
        api_rows = response.json()["rows"]
        assert api_rows
        table = page.locator(".kpi tbody tr")
        await expect(table).to_have_count(len(api_rows))
        for row, expected in zip(await table.all(), api_rows, strict=True):
            for column in ("offered", "answered", "outbound", "avg_talk_seconds"):
                cell = row.locator(f'[data-col="{column}"]')
                value = expected[column]
                shown = latin(await cell.inner_text())
                assert (shown == "—") if value is None else float(shown) == value, column
        charts = page.locator(".kpi-charts canvas")
        await expect(charts).to_have_count(3)
        drawn = await page.evaluate(
            "() => [...document.querySelectorAll('.kpi-charts canvas')]"
            ".map((c) => Boolean(Chart.getChart(c)))"
        )
        assert drawn == [True, True, True]
        await boss_panel.shot("32-reports")

        # The wallboard: a caller waits in the queue while the phones ring.
        await page.get_by_role("link", name="تابلوی زنده").click()
        await expect(page.get_by_role("heading", name="تابلوی زنده", exact=True)).to_be_focused()
        board = page.locator(".wallboard")
        await expect(board.locator(".wall-agents li")).to_have_count(3)
        await expect(board.locator(".conn")).to_have_attribute("data-state", "connected")
        until = before_first("04_queue_answered", "Event: DialEnd")
        replaying = sim.replay(AMI_DIR / "04_queue_answered.ami", pace="max", until=until)
        await replaying.wait()
        waiting = board.locator('[data-queue="support"]')
        await expect(waiting).to_contain_text("۱ در انتظار")
        await expect(waiting).to_contain_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")  # as the pops show it
        await expect(waiting.locator('[data-figure="longest"]')).to_have_attribute(
            "data-level", re.compile("good|warn|bad")
        )
        await boss_panel.shot("33-wallboard")
        replaying.resume()
        await replaying.wait()
        await expect(board.get_by_text("کسی در انتظار نیست.")).to_be_visible()
        # Every inbound call of the day (the three direct ones and the queue's), counted as
        # the reports count them; the queue's own figures beside it.
        await expect(board.locator(".counter").first).to_contain_text("۴")
        await expect(waiting.locator('[data-figure="answered"]')).to_have_text("۱ پاسخ از ۱")
        await expect(waiting.locator('[data-figure="sl"]')).to_have_attribute("data-level", "good")

        # The console's only complaint: the bad date's 422, asked for above.
        assert [e for e in boss_panel.errors if "status of 422" not in e] == []
        assert sara.errors == []


async def test_an_agent_is_offered_only_their_own_history_and_figures(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    tokens = await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        await replay(sim, "01_direct_answered")  # sara's
        await replay(sim, "03_direct_busy")
        calls = await stored_calls(db)
        mine = [c for c in calls if c.answered_by_user_id is not None]
        reza = await Panel.open(browser, port)
        page = reza.page
        await reza.sign_in("reza")
        # No wallboard link; its address shows the agent's panel.
        await expect(page.get_by_role("link", name="تابلوی زنده")).to_be_hidden()
        await page.goto(f"http://127.0.0.1:{port}/#wallboard")
        await expect(page.locator("#panes")).to_be_visible()
        await expect(page.locator(".wallboard")).to_have_count(0)
        # His history has none of sara's calls, no agent picker, no export.
        await page.get_by_role("link", name="تاریخچه").click()
        await expect(page.get_by_text("تماس‌های شما؛", exact=False)).to_be_visible()
        await expect(page.locator(".history-list")).not_to_contain_text("سارا")
        await expect(page.get_by_role("button", name="دریافت CSV")).to_have_count(0)
        await expect(
            page.locator("form.filters").get_by_label("کارشناس", exact=True)
        ).to_have_count(0)
        # And the API refuses what the page does not offer.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            h = {"Authorization": f"Bearer {tokens['1002']}"}
            assert (await client.get("/api/history/export.csv", headers=h)).status_code == 403
            assert (await client.get("/api/users", headers=h)).status_code == 403
            for call in mine:
                path = f"/api/calls/{call.id}/tracking-codes"
                assert (await client.get(path, headers=h)).status_code == 404
                sara = {"Authorization": f"Bearer {tokens['1001']}"}
                assert (await client.get(path, headers=sara)).status_code == 200
        assert reza.errors == []
