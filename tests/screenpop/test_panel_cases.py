"""Tracking codes, notes and dispositions, the case thread, callbacks and support contracts in
the agent panel, in a real Chromium: Tamas served by uvicorn, the simulated PBX replaying
real recordings, the agent using the page as people do.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import jdatetime
import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import delete, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Call, Callback, CallNote, Contract, Customer, Role, TrackingCode, User
from app.tracking import codes
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MISSED = "۰۲۱ ۸۸۷۷ ۶۶۵۵"  # 02_direct_noanswer: a landline in Tehran, +98 21 8877 6655


def fa(text: str) -> str:
    return text.translate(PERSIAN)


def grouped(code: str) -> str:
    return f"{code[:4]} {code[4:]}"


def mistyped(code: str) -> str:
    """The code with its third digit read wrong (the check digit catches every such error)."""
    return code[:2] + str((int(code[2]) + 1) % 10) + code[3:]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def cases(db: Database) -> AsyncIterator[None]:
    """Callbacks and tracking codes outlive the calls they came from (the other fixtures
    delete calls, users and customers): none before this test, none left after it."""
    assert db.sessionmaker is not None

    async def empty() -> None:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(delete(Callback))
            await session.execute(delete(TrackingCode))

    await empty()
    yield
    await empty()


async def test_codes_notes_cases_callbacks_and_contracts_in_the_panel(
    db: Database, cases: None, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    today = settings.today()
    async with unit_of_work(db.sessionmaker) as session:
        ali = await session.scalar(select(Customer.id).where(Customer.name == "علی رضایی"))
        assert ali is not None
        # Ali's support contract ran out last month.
        session.add(
            Contract(
                customer_id=ali,
                level="طلایی",
                starts_on=today - timedelta(days=400),
                ends_on=today - timedelta(days=30),
            )
        )
        await make_user(session, Role.supervisor, username="boss")
    sim.originate_outcome = {"02188776655": "device_offline"}
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await sara.sign_in("sara")

        # Sara answers Ali: the card says his contract has expired, and once answered, the
        # call's tracking code, large, to read out.
        await replay(sim, "01_direct_answered")
        card = page.locator("#pop-list > li").first
        await expect(card).to_have_attribute("data-state", "ended")
        await expect(card.locator(".badge.contract-expired")).to_have_text(
            re.compile(r"قرارداد \(طلایی\) منقضی شده است \(.*۱۴[۰-۹]{2}\)")
        )
        await expect(page.locator("#announcer")).to_contain_text(
            "قرارداد پشتیبانی علی رضایی منقضی شده است."
        )
        async with db.sessionmaker() as session:
            call_id = await session.scalar(select(Call.id))
            code = await session.scalar(select(TrackingCode.code))
        assert call_id is not None and code is not None
        shown = card.get_by_role("region", name="کد پیگیری این تماس")
        await expect(shown.locator(".code-big")).to_have_text(fa(grouped(code)))
        await shown.get_by_role("button", name=f"کپی کد پیگیری {fa(grouped(code))}").click()
        await expect(shown).to_contain_text("کپی شد.")
        assert await page.evaluate("navigator.clipboard.readText()") == code
        await sara.shot("30-tracking-code")

        # A note (the button, then Ctrl+Enter from the keyboard) and a disposition.
        work = card.get_by_role("region", name="یادداشت و موضوع تماس")
        note = work.get_by_label("یادداشت", exact=True)
        await note.fill("مشتری درباره فاکتور آذر پرسید.")
        await work.get_by_role("button", name="ثبت یادداشت").click()
        await expect(work.locator(".note-list")).to_contain_text("مشتری درباره فاکتور آذر پرسید.")
        await expect(note).to_have_value("")
        await note.fill("قرار شد فردا تماس بگیریم.")
        await page.keyboard.press("Control+Enter")
        await expect(work.locator(".note-list li")).to_have_count(2)
        await expect(note).to_be_focused()
        support = work.get_by_role("button", name="پشتیبانی")
        await support.click()
        await expect(support).to_have_attribute("aria-pressed", "true")
        await expect(page.locator("#announcer")).to_have_text("موضوع تماس: پشتیبانی")
        async with db.sessionmaker() as session:
            call = await session.get(Call, call_id)
            notes = (await session.scalars(select(CallNote.text).order_by(CallNote.id))).all()
        assert call is not None and call.disposition == "support"
        assert notes == ["مشتری درباره فاکتور آذر پرسید.", "قرار شد فردا تماس بگیریم."]

        # The caller quotes a code with a digit wrong: flagged as it is typed, nothing sent.
        quoted = work.get_by_label("کدی که تماس‌گیرنده می‌گوید")
        await quoted.fill(fa(grouped(mistyped(code))))
        await expect(quoted).to_have_attribute("aria-invalid", "true")
        await expect(work).to_contain_text("این کد درست نیست")
        await quoted.fill(fa(code[:5]))
        await expect(quoted).not_to_have_attribute("aria-invalid", "true")
        await sara.shot("31-notes-and-disposition")

        # Find the case by its code (as the customer reads it: Persian digits, a space): the
        # thread with the call, its disposition and Sara's notes.
        await page.get_by_role("tab", name="پرونده‌ها").click()
        find = page.get_by_role("textbox", name="یافتن پرونده با کد پیگیری")
        await find.fill(fa(grouped(code)))
        await page.keyboard.press("Enter")
        thread = page.locator("#case-body")
        await expect(thread.locator("h3")).to_have_text(f"پرونده {fa(grouped(code))}")
        await expect(thread.locator(".badge.case-open")).to_have_text("باز")
        await expect(thread).to_contain_text("مسئول: سارا احمدی")
        calls = thread.locator(".case-calls > li")
        await expect(calls).to_have_count(1)
        await expect(calls).to_contain_text("با شما")
        await expect(calls).to_contain_text("پاسخ داده شد")
        await expect(calls).to_contain_text("پشتیبانی")
        await expect(calls).to_contain_text("مشتری درباره فاکتور آذر پرسید.")
        await expect(calls).to_contain_text("قرار شد فردا تماس بگیریم.")
        await sara.shot("32-case-thread")

        # Closed and reopened; the button keeps the keyboard.
        await thread.get_by_role("button", name="بستن پرونده").click()
        await expect(thread.locator(".badge.case-closed")).to_have_text("بسته")
        reopen = thread.get_by_role("button", name="باز کردن دوباره")
        await expect(reopen).to_be_focused()
        await expect(page.locator("#case-status")).to_have_text(
            f"پرونده {fa(grouped(code))} بسته شد."
        )
        await page.keyboard.press("Enter")
        await expect(thread.locator(".badge.case-open")).to_have_text("باز")
        async with db.sessionmaker() as session:
            case = await session.scalar(select(TrackingCode).where(TrackingCode.code == code))
        assert case is not None and case.status == "open" and case.closed_at is None

        # A mistyped code is flagged at once (two neighbours swapped too), nothing is asked.
        swapped = code[1] + code[0] + code[2:] if code[0] != code[1] else mistyped(code)
        for wrong in (mistyped(code), swapped):
            await find.fill(wrong)
            await expect(find).to_have_attribute("aria-invalid", "true")
            await expect(page.locator("#case-error")).to_have_text(
                "این کد درست نیست: یک رقم اشتباه است یا دو رقم جابه‌جا شده‌اند. دوباره بپرسید."
            )
        await sara.shot("33-mistyped-code")
        # A well-formed code no case has: the server says so.
        unknown = next(c for c in (codes.new_code() for _ in range(50)) if c != code)
        await find.fill(unknown)
        await page.keyboard.press("Enter")
        await expect(page.locator("#case-error")).to_have_text("پرونده‌ای با این کد پیدا نشد.")
        assert [e for e in sara.errors if "404" in e], sara.errors
        sara.errors = [e for e in sara.errors if "404" not in e]

        # A landline nobody knows rang Sara's phone and gave up: a call back is owed. Sara
        # claims it and calls back from it.
        await replay(sim, "02_direct_noanswer")
        tab = page.get_by_role("tab", name=re.compile("تماس‌های برگشتی"))
        await expect(tab.locator(".count")).to_have_text("۱")
        await tab.click()
        waiting = page.locator("#callbacks-open li.callback")
        await expect(waiting).to_have_count(1)
        await expect(waiting).to_contain_text(MISSED)
        await expect(waiting.locator("time")).to_have_text(re.compile("۱۴[۰-۹]{2}"))
        await sara.shot("34-callbacks")
        await waiting.get_by_role("button", name=f"برداشتن تماس برگشتی {MISSED}").click()
        mine = page.locator("#callbacks-mine li.callback")
        await expect(mine).to_contain_text(MISSED)
        await expect(page.locator("#callbacks-open")).to_contain_text("کسی منتظر تماس برگشتی نیست.")
        await expect(tab.locator(".count")).to_have_text("")
        back = mine.get_by_role("button", name=f"تماس با {MISSED}")
        await expect(back).to_be_focused()
        async with db.sessionmaker() as session:
            sara_id = await session.scalar(select(User.id).where(User.username == "sara"))
            callback = await session.scalar(select(Callback))
        assert callback is not None
        assert (callback.status, callback.claimed_by_user_id) == ("claimed", sara_id)
        async with page.expect_response("**/api/originations") as answered:
            await page.keyboard.press("Enter")
        response = await answered.value
        assert response.status == 202
        assert json.loads(response.request.post_data or "{}")["number"] == "+982188776655"
        await expect(page.locator("#pop-list > li").first).to_contain_text(
            "تلفن شما خاموش است یا در دسترس نیست"
        )
        await sara.shot("35-callback-claimed")

        # In English.
        await page.get_by_role("button", name="English").click()
        await expect(
            mine.get_by_role("button", name="Release the callback to 021 8877 6655")
        ).to_be_visible()
        await expect(page.get_by_role("heading", name="Claimed by me")).to_be_visible()
        ended = page.locator("#pop-list > li[data-state='ended']")
        await expect(ended.locator(".badge.contract-expired")).to_contain_text("expired")
        await expect(ended.get_by_role("region", name="This call's tracking code")).to_contain_text(
            grouped(code)
        )
        await page.get_by_role("button", name="فارسی").click()

        # Released: back on the open list.
        await mine.get_by_role("button", name=f"واگذاری تماس برگشتی {MISSED}").click()
        await expect(waiting).to_have_count(1)
        await expect(page.locator("#callbacks-mine")).to_contain_text("تماس برگشتی‌ای برنداشته‌اید.")

        # Sara cannot add contracts; the customer card shows the expired one.
        await ended.get_by_role("button", name="علی رضایی").click()
        customer = page.locator("#customer-body")
        await expect(customer.locator(".contracts")).to_contain_text("منقضی شده است")
        await expect(customer.get_by_text("افزودن قرارداد")).to_have_count(0)
        await sara.close()

        # The supervisor adds a new contract, with Jalali dates in Persian digits.
        boss = await Panel.open(browser, port)
        await boss.sign_in("boss")
        page = boss.page
        # A supervisor without a phone lands on the wallboard; the customers are on the panel.
        await expect(page.locator(".wallboard")).to_be_visible()
        await page.get_by_role("link", name="تماس‌ها", exact=True).click()
        await page.get_by_label("جستجوی نام، شرکت یا شماره").fill("علی")
        await page.locator("#results").get_by_role("button", name="علی رضایی").click()
        customer = page.locator("#customer-body")
        await customer.get_by_text("افزودن قرارداد").click()
        starts = jdatetime.date.fromgregorian(date=today - timedelta(days=10))
        ends = jdatetime.date.fromgregorian(date=today + timedelta(days=200))
        await customer.get_by_label("سطح").fill("نقره‌ای")
        await customer.get_by_label("از تاریخ").fill(fa(starts.strftime("%Y/%m/%d")))
        await customer.get_by_label("تا تاریخ (آخرین روز)").fill(fa(ends.strftime("%Y/%m/%d")))
        await customer.get_by_role("button", name="ذخیره").click()
        await expect(customer.locator(".badge.contract-active")).to_contain_text(
            "قرارداد فعال (نقره‌ای) تا"
        )
        await expect(customer.locator(".contract-list li")).to_have_count(2)
        await boss.shot("36-contract-added")
        async with db.sessionmaker() as session:
            added = await session.scalar(select(Contract).where(Contract.level == "نقره‌ای"))
        assert added is not None
        assert (added.starts_on, added.ends_on) == (
            today - timedelta(days=10),
            today + timedelta(days=200),
        )
        await boss.close()
