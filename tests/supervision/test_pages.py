"""The supervisor's buttons on the wallboard, in Chromium: an agent picked, paused with a
reason, their panel told who did it; listening offered only while they are on a call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_a_supervisor_pauses_an_agent_from_the_wallboard(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        await sara.sign_in("sara")
        boss_panel = await Panel.open(browser, port)
        page = boss_panel.page
        await boss_panel.sign_in("boss")
        await page.get_by_role("link", name="تابلوی زنده").click()
        board = page.locator(".wallboard")
        await expect(board.locator(".wall-agents li")).to_have_count(3)
        await expect(board).to_contain_text("نام یک کارشناس را بزنید")

        await board.get_by_role("button", name="سارا احمدی").click()
        actions = board.locator(".wall-buttons")
        # Not on a call: listening is not offered yet.
        await expect(board.get_by_role("button", name="شنود")).to_be_disabled()
        await expect(board).to_contain_text("فقط وقتی کارشناس در مکالمه است")
        await board.get_by_label("دلیل استراحت").select_option("training")
        await actions.get_by_role("button", name="استراحت", exact=True).click()
        await expect(board.locator(".wall-note")).to_contain_text("درخواست به مرکز تلفن رفت")
        # The PBX paused her: the board and her panel say so, and who did it.
        await expect(board.locator('[data-agent] >> text="در استراحت: آموزش"')).to_be_visible()
        await expect(sara.page.locator("#avail-by")).to_have_text(
            "نگار سرپرست (سرپرست) شما را به استراحت برد: آموزش"
        )
        await expect(sara.page.locator("#avail-text")).to_contain_text("آموزش")

        await actions.get_by_role("button", name="آماده کردن").click()
        await expect(sara.page.locator("#avail-by")).to_have_text(
            "نگار سرپرست (سرپرست) شما را آماده کرد"
        )
        await page.get_by_role("button", name="English").click()
        await expect(board.get_by_role("button", name="Listen")).to_be_disabled()
        await sara.close()
        await boss_panel.close()
