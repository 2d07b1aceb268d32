"""The supervisor's buttons on the wallboard, in Chromium: an agent picked, paused with a
reason, their panel told who did it; listening offered only while they are on a call, and
left from the board."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role, SpySession
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.supervision.test_spy import TRACE, supervisor
from tests.telephony.traces import AMI_DIR


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


async def test_a_supervisor_listens_from_the_wallboard_and_leaves_the_call(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    """Listen, then "leave the call": Tamas hangs up the supervisor's phone through the PBX
    (the simulator's ChanSpy ends); the agent's call goes on; the session has its end."""
    await supervisor(db, settings)  # Maryam (1003) supervises, Reza (1002) takes the call
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        await sim.replay(
            AMI_DIR / f"{TRACE}.ami", pace="max", until=before_first(TRACE, "Event: HangupRequest")
        ).wait()
        boss = await Panel.open(browser, port)
        page = boss.page
        await boss.sign_in("maryam")
        await page.get_by_role("link", name="تابلوی زنده").click()
        board = page.locator(".wallboard")
        await board.get_by_role("button", name="رضا کریمی").click()
        leave = board.get_by_role("button", name="ترک تماس")
        await expect(leave).to_be_hidden()
        await board.get_by_role("button", name="شنود").click()
        note = board.locator(".wall-note")
        await expect(note).to_have_text("شنود: در حال انجام.")
        assert len(sim.spies) == 1
        await leave.click()
        await expect(note).to_have_text("شنود: پایان یافت.")
        await expect(leave).to_be_hidden()
        assert sim.spies == {}
        assert any(
            c.block["Channel"].startswith("PJSIP/1002-") for c in sim.state.channels.values()
        )
        await boss.close()
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        (spy,) = (await session.execute(select(SpySession))).scalars().all()
    assert spy.state == "ended" and spy.ended_at is not None and spy.stopped_by_user_id is not None
