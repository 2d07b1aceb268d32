"""The agent panel through a working day, in a real Chromium: a customer saved from a pop has
that call, the open customer card follows its end, the header says "on a call" while the
agent is on one, a transferred call keeps who passed it on, and click-to-call places one call
at a time unless the agent says otherwise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from app.config import Settings
from app.db import Database
from telephony.simulator import AmiSimulator
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.telephony.traces import AMI_DIR

PAUSE = ("Event: DialEnd", "Event: HangupRequest")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_a_customer_saved_from_a_pop_has_the_call_and_the_card_follows_its_end(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    tokens = await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")

        name = "05_queue_abandoned"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, *PAUSE)
        )
        await replaying.wait()
        card = page.locator("#pop-list > li").first
        await expect(card).to_contain_text("شماره ناشناس")
        await card.get_by_text("ثبت مشتری جدید برای این شماره").click()
        form = card.locator(".quick-create form")
        await form.get_by_label("نام").fill("نگار موسوی")
        await form.get_by_role("button", name="ذخیره").click()

        # The card opened on the new customer has the call being taken in its history...
        customer = page.locator("#customer-body")
        await expect(customer.locator("h3")).to_have_text("نگار موسوی")
        row = customer.locator("table.history tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("در جریان")
        # ... as the API has it.
        headers = {"Authorization": f"Bearer {tokens['1001']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            found = await client.get("/api/customers?q=نگار", headers=headers)
            cid = found.json()["items"][0]["id"]
            calls = await client.get(f"/api/customers/{cid}/calls", headers=headers)
        assert len(calls.json()["items"]) == 1

        # The call ends: the open card shows how, without being opened again.
        replaying.resume()
        await replaying.wait()
        await expect(card).to_contain_text("تماس‌گیرنده قطع کرد")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("رها شده")
        await sara.close()


async def test_the_header_says_on_a_call_and_a_transfer_keeps_who_passed_it_on(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        reza = await Panel.open(browser, port)
        await sara.sign_in("sara")
        await reza.sign_in("reza")
        state = {p: p.page.locator("#avail-text") for p in (sara, reza)}
        await expect(state[sara]).not_to_have_text("در مکالمه")

        name = "07_blind_transfer"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, "Event: BlindTransfer")
        )
        await replaying.wait()
        await expect(sara.page.locator("#pop-list > li").first).to_have_attribute(
            "data-state", "answered"
        )
        await expect(state[sara]).to_have_text("در مکالمه")
        await expect(sara.page.locator("#availability")).to_have_attribute("data-state", "on_call")

        replaying.resume(until=before_first(name, "Event: HangupRequest"))
        await replaying.wait()
        card = reza.page.locator("#pop-list > li").first
        await expect(card).to_have_attribute("data-state", "answered")
        await expect(card).to_contain_text("منتقل‌شده از سارا احمدی")
        await expect(state[reza]).to_have_text("در مکالمه")
        await expect(state[sara]).not_to_have_text("در مکالمه")

        replaying.resume()
        await replaying.wait()
        await expect(card).to_have_attribute("data-state", "ended")
        await expect(card).to_contain_text("منتقل‌شده از سارا احمدی")
        await expect(state[reza]).not_to_have_text("در مکالمه")
        await sara.close()
        await reza.close()


async def test_click_to_call_places_one_call_at_a_time_unless_the_agent_confirms(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")
        await page.get_by_label("جستجوی نام، شرکت یا شماره").fill("علی")
        call = page.locator("#results").get_by_role(
            "button", name="تماس با ۰۹۱۲ ۱۲۳ ۴۵۶۷", exact=True
        )
        await call.click()
        cards = page.locator("#pop-list > li")
        await expect(cards.first).to_have_attribute("data-state", "agent_ringing")

        # Clicked again while the first call is being placed: refused, with a way through.
        await call.click()
        await expect(cards).to_have_count(2)
        refused = cards.first
        await expect(refused).to_have_attribute("data-state", "failed")
        await expect(refused).to_contain_text("تماس قبلی شما هنوز در حال برقراری است.")
        assert len(sim.originate_requests) == 1
        anyway = refused.get_by_role("button", name="تماس با ۰۹۱۲ ۱۲۳ ۴۵۶۷", exact=True)
        await expect(anyway).to_contain_text("با این حال تماس بگیر")
        async with page.expect_response("**/api/originations") as answered:
            await anyway.click()
        response = await answered.value
        assert response.status == 202
        assert json.loads(response.request.post_data or "{}")["confirm"] is True

        async def both() -> bool:
            return len(sim.originate_requests) == 2

        await eventually(both)
        # Both calls run to their end (the simulator plays them in real time).
        ended = page.locator("#pop-list > li[data-state=ended]")
        await expect(ended).to_have_count(2, timeout=20_000)
        refusals = [e for e in sara.errors if e.startswith("Failed to load resource")]
        assert [e.split("status of ")[1] for e in refusals] == ["409 (Conflict)"]
        sara.errors = [e for e in sara.errors if e not in refusals]
        await sara.close()
