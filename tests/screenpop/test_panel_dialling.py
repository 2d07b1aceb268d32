"""The agent's availability in the agent panel, in a real Chromium: Tamas served by
uvicorn, the simulated PBX answering the queue actions as Asterisk does, the agent using the
page as people do.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect

from app.config import Settings
from app.db import Database, unit_of_work
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_the_availability_control_follows_the_pbx(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, username="nima", devices=["PJSIP/1004"])
    conf = instance_settings(settings, db, sim)
    conf = conf.model_copy(
        update={
            "pbxes": [conf.pbxes[0].model_copy(update={"login_queues": ["support"]})],
            "wrapup_seconds": 120,
        }
    )
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")
        control = page.get_by_role("group", name="وضعیت من")
        state = page.locator("#avail-text")
        await expect(state).to_have_text("آماده")
        await expect(control.get_by_role("button", name="آماده‌ام")).to_be_hidden()

        # The pause menu, by keyboard: opens on the first reason, arrows move, Escape closes.
        pause = control.get_by_role("button", name="استراحت", exact=True)
        await pause.focus()
        await page.keyboard.press("Enter")
        await expect(pause).to_have_attribute("aria-expanded", "true")
        menu = page.get_by_role("list", name="دلیل استراحت")
        await expect(menu.get_by_role("button", name="ناهار")).to_be_focused()
        await page.keyboard.press("ArrowDown")
        await expect(menu.get_by_role("button", name="استراحت کوتاه")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(menu).to_be_hidden()
        await expect(pause).to_be_focused()

        # Paused for lunch: shown once the PBX confirms (QueueMemberPause).
        await page.keyboard.press("Enter")
        async with page.expect_response("**/api/agent/pause") as answered:
            await page.keyboard.press("Enter")
        assert (await answered.value).status == 202
        await expect(state).to_have_text("در استراحت: ناهار")
        await expect(pause).to_be_focused()
        await sara.shot("12-paused")
        ready = control.get_by_role("button", name="آماده‌ام")
        await ready.click()
        await expect(state).to_have_text("آماده")
        await expect(ready).to_be_hidden()

        # Paused from the phone: the panel follows.
        sim.pause_member("PJSIP/1001", True, reason="training")
        await expect(state).to_have_text("در استراحت: آموزش")
        await ready.click()
        await expect(state).to_have_text("آماده")

        # Sara is in the queue by the PBX's configuration: nothing to log out of.
        await expect(control.get_by_role("button", name="خروج از صف support")).to_have_count(0)

        # After a call: after-call work until a time, counting down; "ready" ends it early.
        await replay(sim, "01_direct_answered")
        await expect(state).to_contain_text("کار پس از تماس تا", timeout=15_000)
        await expect(page.locator("#avail-left")).to_contain_text("مانده")
        status: dict[str, Any] = await page.evaluate(
            "fetch('/api/agent/status', {headers: {Authorization: "
            "'Bearer ' + sessionStorage.getItem('tamas.token')}}).then((r) => r.json())"
        )
        assert status["state"] == "after_call_work"
        await sara.shot("13-after-call-work")
        await ready.click()
        await expect(state).to_have_text("آماده")

        await page.get_by_role("button", name="English").click()
        await expect(
            page.get_by_role("group", name="My status").locator("#avail-text")
        ).to_have_text("Available")
        await page.get_by_role("button", name="فارسی").click()
        await sara.close()

        # Nima logs in to the queue and out again (his phone is not on this PBX: offline).
        nima = await Panel.open(browser, port)
        await nima.sign_in("nima")
        control = nima.page.get_by_role("group", name="وضعیت من")
        state = nima.page.locator("#avail-text")
        await expect(state).to_have_text("عضو هیچ صفی نیستید")
        await expect(control.get_by_role("button", name="استراحت", exact=True)).to_be_hidden()
        await control.get_by_role("button", name="ورود به صف support").click()
        await expect(state).to_have_text("تلفن در دسترس نیست")
        await control.get_by_role("button", name="خروج از صف support").click()
        await expect(state).to_have_text("عضو هیچ صفی نیستید")
        await expect(control.get_by_role("button", name="ورود به صف support")).to_be_visible()
        await nima.close()
