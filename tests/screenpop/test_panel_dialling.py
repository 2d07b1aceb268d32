"""Click-to-call and the agent's availability in the agent panel, in a real Chromium: Tamas
served by uvicorn, the simulated PBX answering the Originate and the queue actions as
Asterisk does, the agent using the page as people do.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from app.config import Settings
from app.db import Database, unit_of_work
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_customer, make_user
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium

CALL_ALI = "تماس با ۰۹۱۲ ۱۲۳ ۴۵۶۷"

# Every state a pop card shows, as it changes: [data-state, the badge, the progress line].
RECORD_CARDS = """
window.__cards = [];
window.__said = [];
const list = document.getElementById("pop-list");
const note = () => {
  const card = list.querySelector("li");
  if (!card) return;
  const seen = [
    card.dataset.state,
    card.querySelector(".badge.state")?.textContent ?? "",
    card.querySelector(".pop-progress")?.textContent ?? "",
  ];
  const last = window.__cards.at(-1);
  if (!last || last.join("|") !== seen.join("|")) window.__cards.push(seen);
};
new MutationObserver(note).observe(list, { subtree: true, childList: true, attributes: true });
new MutationObserver(() => {
  const text = document.getElementById("announcer").textContent;
  if (text) window.__said.push(text);
}).observe(document.getElementById("announcer"), { childList: true, characterData: true });
"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


def states(seen: list[list[str]]) -> list[str]:
    out: list[str] = []
    for state, _badge, _progress in seen:
        if not out or out[-1] != state:
            out.append(state)
    return out


async def search(page: Page, text: str) -> None:
    await page.get_by_label("جستجوی نام، شرکت یا شماره").fill(text)
    await expect(page.locator("#results li").first).to_be_visible()


async def test_click_to_call_from_the_phonebook_follows_the_call_on_one_card(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_customer(session, settings, "John Abroad", ("+44 20 7946 0958",))
    conf = instance_settings(settings, db, sim).model_copy(update={"originate_per_minute": 2})
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")
        await page.evaluate(RECORD_CARDS)

        # The phonebook's number is a call button: the POST goes out with the customer.
        await search(page, "علی")
        call = page.locator("#results").get_by_role("button", name=CALL_ALI, exact=True)
        async with page.expect_response("**/api/originations") as answered:
            await call.click()
        response = await answered.value
        assert response.status == 202
        sent = json.loads(response.request.post_data or "{}")
        assert sent["number"] == "+989121234567" and isinstance(sent["customer_id"], int)
        ref = (await response.json())["ref"]

        async def originated() -> bool:
            return len(sim.originate_requests) == 1

        await eventually(originated)
        request = sim.originate_requests[0]
        assert (request.channel, request.exten) == ("PJSIP/1001", "09121234567")
        assert ("__TAMAS_ORIGINATION", ref) in request.variables

        # One card, from the click to the end of the call: the request, Sara's phone ringing,
        # the customer being called, connected (the simulator plays recording 06 in real
        # time: ringing 1.5 s, dialling 2.5 s, connected 4 s).
        cards = page.locator("#pop-list > li")
        card = cards.first
        await expect(card).to_contain_text("علی رضایی")
        await expect(card).to_contain_text("تماس از پنل")
        await expect(card).to_have_attribute("data-state", "connected", timeout=15_000)
        await expect(card).to_contain_text("با علی رضایی (۰۹۱۲ ۱۲۳ ۴۵۶۷) وصل شدید.")
        await sara.shot("10-click-to-call-connected")
        seen = await page.evaluate("window.__cards")
        assert states(seen) == ["requested", "agent_ringing", "dialling", "connected"], seen
        badges = {state: badge for state, badge, _ in seen}
        assert badges["requested"] == "درخواست شد"
        assert badges["agent_ringing"] == "تلفن شما زنگ می‌زند"
        assert badges["dialling"] == "در حال تماس با مشتری"
        assert badges["connected"] == "وصل شد"
        progress = {state: text for state, _, text in seen}
        assert "گوشی را بردارید" in progress["agent_ringing"]
        assert "علی رضایی" in progress["agent_ringing"]
        said = await page.evaluate("window.__said")
        assert any("گوشی را بردارید" in s for s in said), said
        assert any(s.startswith("در حال تماس با علی رضایی") for s in said), said

        # Reloaded mid-call, the tab keeps the card and the call's end still lands on it.
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        await expect(card).to_have_attribute("data-state", "ended", timeout=15_000)
        await expect(cards).to_have_count(1)
        await expect(card).to_contain_text("علی رضایی")

        # The customer card: its numbers and its history call too. Sara's phone is offline
        # this time: the card says so, in words.
        sim.originate_outcome = {"09121234567": "device_offline"}
        await card.get_by_role("button", name="علی رضایی").click()
        customer = page.locator("#customer-body")
        row = customer.locator("table.history tbody tr")
        await expect(row).to_have_count(1)
        await expect(row.get_by_role("button", name=CALL_ALI, exact=True)).to_be_visible()
        await customer.locator(".phones").get_by_role("button", name=CALL_ALI, exact=True).click()
        await expect(cards).to_have_count(2)
        failed = cards.first  # the newest; third from the top once two more come
        await expect(failed).to_have_attribute("data-state", "failed")
        await expect(failed).to_contain_text("تلفن شما خاموش است یا در دسترس نیست")
        await expect(page.locator("#announcer")).to_contain_text(
            "تماس با علی رضایی (۰۹۱۲ ۱۲۳ ۴۵۶۷) برقرار نشد"
        )
        await expect(failed.get_by_role("button", name=CALL_ALI, exact=True)).to_have_text(
            "☎تماس دوباره"
        )
        await sara.shot("11-click-to-call-device-offline")

        # A number Tamas may not dial: the server's reason, on the card.
        await search(page, "John")
        await (
            page.locator("#results").get_by_role("button", name="تماس با +۴۴ ۲۰ ۷۹۴۶ ۰۹۵۸").click()
        )
        refused = cards.first
        await expect(refused).to_have_attribute("data-state", "failed")
        await expect(refused).to_contain_text(
            "این شماره گرفته نمی‌شود: تماس با خارج از کشور از تماس مجاز نیست."
        )

        # While a request is under way every call button waits; a second click does nothing.
        held = asyncio.Event()

        async def hold(route: Route) -> None:
            await held.wait()
            await route.continue_()

        await page.route("**/api/originations", hold)
        await search(page, "علی")
        call = page.locator("#results").get_by_role("button", name=CALL_ALI, exact=True)
        await call.click()
        await expect(cards).to_have_count(4)
        await expect(cards.first).to_have_attribute("data-state", "requested")
        await expect(call).to_have_attribute("aria-disabled", "true")
        await call.click(force=True)  # Playwright itself would wait for it to be enabled
        await expect(cards).to_have_count(4)
        held.set()
        # Two calls this minute already (at most two): try again later, in so many seconds.
        await expect(cards.first).to_have_attribute("data-state", "failed")
        await expect(cards.first).to_contain_text("ثانیه دیگر دوباره امتحان کنید")
        await expect(call).not_to_have_attribute("aria-disabled", "true")
        assert len(sim.originate_requests) == 2

        # In English too.
        await page.get_by_role("button", name="English").click()
        offline = cards.nth(2)
        await expect(offline).to_contain_text("Your phone is offline or unreachable")
        await expect(
            offline.get_by_role("button", name="Call 0912 123 4567", exact=True)
        ).to_be_visible()
        await expect(cards.first).to_contain_text("Too many calls this minute; try again in")
        await page.get_by_role("button", name="فارسی").click()
        await page.unroute("**/api/originations")
        # The browser logs each refused request; those two were meant to be refused.
        refusals = [e for e in sara.errors if e.startswith("Failed to load resource")]
        assert [e.split("status of ")[1] for e in refusals] == [
            "422 (Unprocessable Entity)",
            "429 (Too Many Requests)",
        ]
        sara.errors = [e for e in sara.errors if e not in refusals]
        await sara.close()


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
