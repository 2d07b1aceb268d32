"""The agent-activity page in Chromium: a supervisor's table of the team's figures over a
period (as the API gives them) and an agent's day drawn as a bar of states; an agent sees
only their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role, User
from app.supervision.activity_service import ActivityService
from app.supervision.signin_service import SignInService
from telephony.members import AgentSignal, MemberState
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.supervision.test_activity import member


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def seed(db: Database, settings: Settings) -> None:
    """Sara's 2026-11-23 (Tehran): 08:00-17:00 in the queue, an hour's lunch at 12:00, a
    10-minute call at 09:00; signed in to Tamas from 07:55 to 17:05."""
    day = datetime(2026, 11, 23, 8, tzinfo=ZoneInfo(settings.time_zone))

    def at(hours: float) -> float:
        return (day + timedelta(hours=hours)).timestamp()

    batches: list[list[MemberState | AgentSignal]] = [
        [member(at(0), "PJSIP/1001")],
        [AgentSignal("main", "support", "PJSIP/1001", "connect", at(1))],
        [AgentSignal("main", "support", "PJSIP/1001", "complete", at(1 + 1 / 6))],
        [member(at(4), "PJSIP/1001", paused=True, paused_reason="lunch")],
        [member(at(5), "PJSIP/1001")],
        [member(at(9), "PJSIP/1001", removed=True)],
    ]
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        sara = (await session.execute(select(User).where(User.username == "sara"))).scalar_one()
        # Signed in to Tamas 07:55-17:05.
        signin = SignInService(session, settings)
        await signin.signed_in(sara.id, now=day - timedelta(minutes=5))
        await signin.signed_out(sara.id, now=day + timedelta(hours=9, minutes=5))
    for batch in batches:
        async with unit_of_work(db.sessionmaker) as session:
            await ActivityService(session).record(
                [m for m in batch if isinstance(m, MemberState)],
                None,
                [s for s in batch if isinstance(s, AgentSignal)],
            )


async def test_the_activity_page_shows_the_team_and_a_day(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
    await seed(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        boss_panel = await Panel.open(browser, port)
        page = boss_panel.page
        await boss_panel.sign_in("boss")
        await page.get_by_role("link", name="فعالیت کارشناسان").click()
        view = page.locator(".activity-view")
        await expect(view.get_by_role("heading", name="فعالیت کارشناسان")).to_be_focused()
        form = view.locator("form.filters").first
        await form.get_by_label("از تاریخ").fill("2026-11-23")
        await form.get_by_label("تا تاریخ").fill("2026-11-23")
        await form.get_by_role("button", name="نمایش گزارش").click()
        row = view.locator("table.activity tbody tr").filter(has_text="سارا احمدی")
        await expect(row).to_have_count(1)
        # 9 h logged in, 10 min talk, an hour's lunch; occupancy 600 / (9 h - 1 h) = 2.1 %.
        await expect(row.locator('[data-column="logged_in_seconds"]')).to_have_text("۹:۰۰:۰۰")
        await expect(row.locator('[data-column="signed_in_seconds"]')).to_have_text("۹:۱۰:۰۰")
        await expect(view.locator("table.activity thead th").nth(1)).to_have_text(
            "حضور در پنل تماس"
        )
        await expect(row.locator('[data-column="talking_seconds"]')).to_have_text("۱۰:۰۰")
        await expect(row.locator('[data-column="pause_seconds"]')).to_have_text("۱:۰۰:۰۰")
        await expect(row.locator('[data-column="occupancy_pct"]')).to_have_text("۲٫۱٪")
        await expect(row.locator('[data-column="pause_by_reason"]')).to_have_text("ناهار ۱:۰۰:۰۰")

        day = view.locator("form.filters").nth(1)
        await day.get_by_label("روز", exact=True).fill("2026-11-23")
        await day.get_by_label("کارشناس").select_option(label="سارا احمدی")
        await day.get_by_role("button", name="نمایش روز").click()
        bar = view.get_by_role(
            "img", name="نوار زمانی وضعیت‌های کارشناس در این روز؛ همان بازه‌ها در جدول زیر"
        )
        segments = bar.locator(".seg")
        await expect(segments).to_have_count(5)  # idle, talk, idle, lunch, idle
        states = await segments.evaluate_all("(s) => s.map((e) => e.dataset.state)")
        assert states == ["idle", "talking", "idle", "pause", "idle"]
        # Placed by the clock: the lunch starts at 12:00, half the day in, an hour wide.
        style = await segments.nth(3).evaluate("(e) => [e.style.insetInlineStart, e.style.width]")
        assert style == ["50%", "4.167%"]
        await expect(view.locator(".timeline-list tbody tr").nth(3)).to_contain_text(
            "استراحت: ناهار"
        )
        # Above it, her sign-in to Tamas: one stretch from 07:55, 9 h 10 min wide.
        signins = view.get_by_role(
            "img", name="نوار زمانی حضور کارشناس در پنل تماس در این روز؛ همان بازه‌ها در جدول پایین"
        ).locator(".seg")
        await expect(signins).to_have_count(1)
        style = await signins.evaluate("(e) => [e.style.insetInlineStart, e.style.width]")
        assert style == ["32.986%", "38.194%"]  # 475 / 1440 min, 550 / 1440 min
        listed = view.locator(".signin-list tbody tr")
        await expect(listed).to_have_count(1)
        await expect(listed).to_contain_text("حاضر در پنل تماس")
        await boss_panel.shot("activity-signed-in")
        await boss_panel.close()

        sara = await Panel.open(browser, port)
        await sara.sign_in("sara")
        await sara.page.goto(f"http://127.0.0.1:{port}/#activity")
        mine = sara.page.locator(".activity-view")
        await expect(mine.get_by_label("کارشناس", exact=True)).to_have_count(0)  # no agent picker
        form = mine.locator("form.filters").first
        await form.get_by_label("از تاریخ").fill("2026-11-23")
        await form.get_by_label("تا تاریخ").fill("2026-11-23")
        await form.get_by_role("button", name="نمایش گزارش").click()
        await expect(mine.locator("table.activity tbody tr")).to_have_count(1)
        await sara.close()
