"""The agent panel in a real Chromium (Debian's ``chromium``, driven by Playwright): Tamas
served by uvicorn, a simulated PBX replaying real recordings, agents signed in through the
page as people sign in.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import AuthToken, Customer, CustomerPhone
from screenpop import keeper
from screenpop.hub import RESYNC
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import PASSWORD
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)
from tests.telephony.traces import AMI_DIR

CHROMIUM = Path(os.environ.get("TAMAS_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = os.environ.get("TAMAS_PANEL_SCREENSHOTS")
PAUSE = ("Event: DialEnd", "Event: HangupRequest")  # the calls stand still while ringing

expect.set_options(timeout=10_000)

# The agent is in another window: notifications are shown, and recorded here instead.
FAKE_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push({title, ...options}); }
  addEventListener() {}
  close() {}
};
document.hasFocus = () => false;
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""


def installed_chromium() -> str:
    """Chromium's path; a clear failure (never a skip) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing): the panel is tested in a real "
            "browser. Install it with `apt-get install -y chromium` (.ci/run does), or point "
            "TAMAS_TEST_CHROMIUM at one.",
            pytrace=False,
        )
    return str(CHROMIUM)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


class Panel:
    """One agent's panel in a browser context of its own (its own storage and sign-in)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    @classmethod
    async def open(cls, browser: Browser, port: int, *, fakes: bool = False) -> Panel:
        context = await browser.new_context(
            locale="fa-IR", timezone_id="Asia/Tehran", viewport={"width": 1400, "height": 900}
        )
        if fakes:
            await context.add_init_script(FAKE_NOTIFICATIONS)
        panel = cls(await context.new_page())
        await panel.page.goto(f"http://127.0.0.1:{port}/")
        return panel

    async def sign_in(self, username: str) -> None:
        page = self.page
        await page.get_by_label("نام کاربری").fill(username)
        await page.get_by_label("گذرواژه").fill(PASSWORD)
        await page.get_by_role("button", name="ورود", exact=True).click()
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

    async def shot(self, name: str) -> None:
        if SHOTS:
            # Playwright makes the directory.
            await self.page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)

    async def close(self) -> None:
        await self.page.context.close()
        assert self.errors == []


async def test_sign_in_then_a_direct_call_pops_with_the_customer(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port, fakes=True)
        page = sara.page
        assert await page.evaluate("document.documentElement.dir") == "rtl"
        await sara.shot("00-sign-in")
        await sara.sign_in("sara")
        await expect(page.locator("#me-name")).to_have_text("سارا احمدی")
        await expect(page.locator("#me-devices")).to_contain_text("۱۰۰۱")
        await expect(page.locator("#conn")).to_contain_text("متصل")
        # The token stays in this tab's sessionStorage, never in the address.
        assert await page.evaluate("sessionStorage.getItem('tamas.token')")
        assert "token" not in page.url

        name = "01_direct_answered"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, *PAUSE)
        )
        await replaying.wait()
        card = page.locator("#pop-list > li").first
        await expect(card).to_have_attribute("data-state", "ringing")
        await expect(card.locator("h3")).to_have_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        await expect(card.get_by_role("button", name="علی رضایی")).to_be_visible()
        await expect(card).to_contain_text("آلفا")
        await expect(card).to_contain_text("در حال زنگ")
        when = card.locator("time").first
        await expect(when).to_have_text(re.compile("۱۴[۰-۹]{2}"))  # the Jalali year
        await expect(when).to_have_attribute("title", re.compile("۲۰[۰-۹]{2}"))  # Gregorian
        await expect(page.locator("#announcer")).to_contain_text("علی رضایی")
        notes = await page.evaluate("window.__notifications")
        assert [n["title"] for n in notes] == ["تماس ورودی"]
        assert "علی رضایی" in notes[0]["body"]
        assert await page.evaluate("window.__tones") == 2  # the ring's two tones
        await sara.shot("01-ringing")

        # Told to resync (it fell behind), the panel reconnects with its last seq; reloaded,
        # the tab keeps its cards and resumes after them.
        sockets: list[object] = []
        page.on("websocket", lambda ws: sockets.append(ws))

        async def reconnected() -> bool:
            return len(sockets) == 1

        app.state.hub.broadcast(dict(RESYNC))
        await eventually(reconnected)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        card = page.locator("#pop-list > li").first
        await expect(card).to_have_attribute("data-state", "ringing")
        assert len(sockets) == 2

        replaying.resume()
        await replaying.wait()
        await expect(card).to_have_attribute("data-state", "ended")
        await expect(card).to_contain_text("تماس پایان یافت")
        # The customer card: details and the call just taken, in the history.
        await card.get_by_role("button", name="علی رضایی").click()
        customer = page.locator("#customer-body")
        await expect(customer.locator("h3")).to_have_text("علی رضایی")
        await expect(page.locator("#customer-h")).to_be_focused()
        row = customer.locator("table.history tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("ورودی")
        await expect(row).to_contain_text("۱۰۰۱")
        await expect(row).to_contain_text("پاسخ داده شد")
        await expect(row.locator("time")).to_have_text(re.compile("۱۴[۰-۹]{2}"))
        await sara.shot("02-ended")
        await card.get_by_role("button", name=re.compile("بستن")).click()
        await expect(page.locator("#pop-list > li")).to_have_count(0)
        await sara.close()


async def test_a_queue_call_answered_by_another_agent_is_withdrawn(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        reza = await Panel.open(browser, port)
        await sara.sign_in("sara")
        await reza.sign_in("reza")

        name = "A4_persian_name_queue_answered"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, *PAUSE)
        )
        await replaying.wait()
        for panel in (sara, reza):
            card = panel.page.locator("#pop-list > li").first
            await expect(card).to_have_attribute("data-state", "ringing")
            await expect(card.locator("h3")).to_have_text("۰۹۳۵ ۱۲۳ ۴۵۶۷")
            await expect(card).to_contain_text("مریم حسینی")  # the caller id, in Persian
        await sara.shot("03-queue-ringing")

        replaying.resume()
        await replaying.wait()
        withdrawn = sara.page.locator("#pop-list > li").first
        await expect(withdrawn).to_have_attribute("data-state", "withdrawn")
        await expect(withdrawn).to_contain_text("پاسخ داده شد توسط رضا کریمی")
        await sara.shot("04-answered-elsewhere")
        answered = reza.page.locator("#pop-list > li").first
        await expect(answered).to_have_attribute("data-state", "ended")
        # Shown briefly, then taken away.
        await expect(sara.page.locator("#pop-list > li")).to_have_count(0, timeout=15_000)
        await expect(sara.page.locator("#pops-empty")).to_be_visible()
        await sara.close()
        await reza.close()


async def test_an_unknown_caller_can_be_saved_from_the_pop(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
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
        await card.get_by_text("ثبت مشتری جدید برای این شماره").click()  # unfolds the form
        form = card.locator(".quick-create form")
        number = form.get_by_label("شماره")
        await expect(number).to_have_value("0918 765 4321")
        await sara.shot("05-unknown-caller")
        await form.get_by_label("نام").fill("نگار موسوی")
        # Whatever is typed is shown as text, never run as markup.
        await form.get_by_label("شرکت").fill("<img src=x onerror=alert(1)>")
        await form.get_by_role("button", name="ذخیره").click()

        await expect(card.get_by_role("button", name="نگار موسوی")).to_be_visible()
        await expect(card).to_contain_text("<img src=x onerror=alert(1)>")
        customer = page.locator("#customer-body")
        await expect(customer.locator("h3")).to_have_text("نگار موسوی")
        await expect(customer).to_contain_text("۰۹۱۸ ۷۶۵ ۴۳۲۱")
        assert await page.locator("img").count() == 0
        assert db.sessionmaker is not None
        async with db.sessionmaker() as session:
            holder = await session.scalar(
                select(Customer.name)
                .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
                .where(CustomerPhone.e164 == "+989187654321")
            )
        assert holder == "نگار موسوی"

        replaying.resume()
        await replaying.wait()
        await expect(card).to_contain_text("تماس‌گیرنده قطع کرد")
        await sara.close()


async def test_the_english_switch_the_phonebook_and_signing_out(
    db: Database,
    sim: AmiSimulator,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keeper, "PING_INTERVAL", 0.2)
    await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, _app):
        sara = await Panel.open(browser, port)
        page = sara.page
        await sara.sign_in("sara")

        await page.get_by_role("button", name="English").click()
        assert await page.evaluate("[document.documentElement.lang, document.dir]") == [
            "en",
            "ltr",
        ]
        await expect(page.get_by_role("heading", name="Live calls")).to_be_visible()
        await expect(page.locator("#conn")).to_contain_text("Connected")
        await page.reload()  # remembered, and the tab is still signed in
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        assert await page.evaluate("document.dir") == "ltr"
        await page.get_by_role("button", name="Mute").click()
        await expect(page.get_by_role("button", name="Mute")).to_have_attribute(
            "aria-pressed", "true"
        )

        # The phonebook: type, pick, read, edit.
        await page.keyboard.press("/")
        await page.keyboard.type("علي")  # Arabic yeh finds Persian
        result = page.locator("#results button").first
        await expect(result).to_contain_text("علی رضایی")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        customer = page.locator("#customer-body")
        await expect(customer.locator("h3")).to_have_text("علی رضایی")
        await expect(customer).to_contain_text("No calls yet.")
        await customer.get_by_role("button", name="Edit علی رضایی").click()
        await customer.get_by_label("Company").fill("آلفا و بتا")
        await customer.get_by_label("Priority").select_option("VIP")
        await customer.get_by_role("button", name="Save").click()
        await expect(customer).to_contain_text("آلفا و بتا")
        await expect(customer.locator(".badge.vip")).to_be_visible()
        await expect(result).to_contain_text("آلفا و بتا")
        await sara.shot("06-english-customer")

        await page.get_by_role("button", name="فارسی").click()
        assert await page.evaluate("document.dir") == "rtl"
        await expect(page.get_by_role("heading", name="تماس‌های زنده")).to_be_visible()
        await page.get_by_role("button", name="خروج").click()
        await expect(page.get_by_label("نام کاربری")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('tamas.token')") is None
        assert db.sessionmaker is not None
        async with db.sessionmaker() as session:
            revoked = await session.scalar(
                select(AuthToken.revoked_at).order_by(AuthToken.id.desc()).limit(1)
            )
        assert revoked is not None

        # A token revoked elsewhere (password change, an admin) sends the panel back here.
        await sara.sign_in("sara")
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(update(AuthToken).values(revoked_at=AuthToken.created_at))
        await expect(page.locator("#signin-error")).to_have_text(
            "نشست شما پایان یافت؛ دوباره وارد شوید."
        )
        await sara.close()


async def test_the_panel_is_served_at_panel_and_the_api_docs_stay(
    client: httpx.AsyncClient,
) -> None:
    root = await client.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/panel/"
    page = await client.get("/panel/")
    assert page.status_code == 200
    assert '<html lang="fa" dir="rtl">' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    script = await client.get("/panel/panel.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/docs")).status_code == 200
    assert "/panel/" not in (await client.get("/openapi.json")).json()["paths"]
