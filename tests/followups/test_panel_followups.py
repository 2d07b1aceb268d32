"""Follow-ups in the agent panel, in a real Chromium (Tamas served by uvicorn on the scratch
database): the due tab (counts, an overdue task marked), a reminder popping when it falls
due and marked done, a callback due popping and dismissed with a reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import delete, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import (
    AuthToken,
    Callback,
    Contract,
    Customer,
    PopEvent,
    Role,
    Task,
    TrackingCode,
    User,
)
from app.tracking.service import TrackingService
from tests.fixtures.factories import make_customer, make_user
from tests.screenpop.support import serving
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        for model in (PopEvent, Task, Callback, TrackingCode, Contract, Customer, AuthToken, User):
            await session.execute(delete(model))


async def test_due_list_a_reminder_popping_and_dismissing_with_a_reason(
    db: Database, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None and db.settings.database_url is not None
    async with unit_of_work(db.sessionmaker) as session:
        sara = await make_user(session, Role.agent, username="sara", devices=["PJSIP/1001"])
        customer = await make_customer(session, settings, "علی رضایی", ("09121234567",))
        customer.owner_id = sara.id
        today = settings.today()
        ends = today + timedelta(days=70)
        session.add(Contract(customer_id=customer.id, level="طلایی", ends_on=ends,
                             starts_on=today - timedelta(days=300)))  # fmt: skip
        week_ago = datetime.now(UTC) - timedelta(days=7)
        session.add(Task(title="ارسال پیش‌فاکتور", assignee_user_id=sara.id, due_at=week_ago,
                         remind_at=week_ago, reminded_at=week_ago, customer_id=customer.id,
                         done_note=""))  # fmt: skip
    conf = settings.model_copy(
        update={"database_url": db.settings.database_url, "followups_tick_seconds": 0.2}
    )
    async with serving(conf) as (port, _app):
        panel = await Panel.open(browser, port)
        page = panel.page
        await panel.sign_in("sara")

        # The due tab: one overdue task, counted on the tab, marked.
        await expect(page.locator("#due-count")).to_have_text("۱")
        await page.get_by_role("tab", name="پیگیری‌ها").click()
        await expect(page.locator("#due-summary")).to_contain_text("۱ عقب‌افتاده")
        overdue = page.locator("li.task.overdue")
        await expect(overdue).to_contain_text("ارسال پیش‌فاکتور")
        await expect(overdue).to_contain_text("علی رضایی")
        # Ali's contract ends in 2 months: listed, with its notice task for Sara (the
        # worker makes it at start).
        await expect(page.locator(".contracts-ending")).to_contain_text("علی رضایی")
        await expect(page.locator(".contracts-ending")).to_contain_text("۲ ماه مانده")
        await expect(
            page.locator("li.task").filter(has_text="قرارداد پشتیبانی رو به پایان")
        ).to_have_count(1)
        await panel.shot("60-due-list")

        # A task added from the panel with a Jalali time: listed, and its reminder pops.
        await page.get_by_label("چه کاری").fill("تماس درباره تمدید")
        await page.get_by_role("textbox", name="سررسید").fill(
            "۱۴۰۵/۰۱/۰۱ ۰۹:۰۰"
        )  # in the past: due at once
        await page.get_by_role("button", name="افزودن").click()
        notice = page.locator("#followup-notices li.reminder")
        await expect(notice).to_contain_text("تماس درباره تمدید")
        await expect(page.locator("#announcer")).to_contain_text("یادآوری: تماس درباره تمدید")
        await panel.shot("61-reminder")
        await notice.get_by_role("button", name="انجام شد").click()
        await expect(page.locator("#followup-notices")).to_be_hidden()
        async with db.sessionmaker() as session:
            task = await session.scalar(select(Task).where(Task.title == "تماس درباره تمدید"))
            assert task is not None and task.done_at is not None
            assert task.remind_at == datetime(2026, 3, 21, 5, 30, tzinfo=UTC)  # 1 Farvardin 1405

        # A callback falls due for Sara: it pops, and she dismisses it with a reason.
        async with unit_of_work(db.sessionmaker) as session:
            now = datetime.now(UTC)
            callback = Callback(pbx="", number="+989121234567", e164="+989121234567",
                                source="manual", first_call_at=now, last_call_at=now,
                                due_at=now, assigned_user_id=sara.id, attempts=0)  # fmt: skip
            session.add(callback)
        due = page.locator("#followup-notices li.callback-due")
        await expect(due).to_contain_text("علی رضایی")
        await expect(page.locator("#due-count")).to_have_text("۲")  # the task and the callback
        await due.get_by_role("button", name="رد کردن تماس برگشتی").click()
        await due.get_by_role("button", name="رد کن").click()
        await expect(due.get_by_role("alert")).to_have_text("دلیل رد کردن را بنویسید.")
        await due.get_by_label("دلیل").fill("مشتری ایمیل زد")
        await due.get_by_role("button", name="رد کن").click()
        await expect(page.locator("#followup-notices")).to_be_hidden()
        await expect(page.locator(".due-callbacks")).to_contain_text("تماس برگشتی سررسیده‌ای نیست.")
        await expect(page.locator("#due-count")).to_have_text("۱")
        async with db.sessionmaker() as session:
            done = await session.get(Callback, callback.id)
            assert done is not None
            assert (done.status, done.done_reason, done.done_note) == (
                "done", "dismissed", "مشتری ایمیل زد",
            )  # fmt: skip
        await panel.shot("62-dismissed")

        # A case past its resolution deadline is marked so.
        async with unit_of_work(db.sessionmaker) as session:
            code = await TrackingService(session, conf).issue(
                by=None, customer_id=customer.id, subject="بازپرداخت", priority="urgent"
            )
            code.resolution_due_at = datetime.now(UTC) - timedelta(hours=1)
        await page.get_by_role("tab", name="پرونده‌ها").click()
        await page.locator("#case-code").fill(code.code)
        await page.get_by_role("button", name="یافتن", exact=True).click()
        head = page.locator(".case-head")
        await expect(head.locator(".badge.sla-breached")).to_have_text("خارج از مهلت")
        await expect(page.locator(".case-sla")).to_contain_text("فوری")
        await expect(page.locator(".case-sla .overdue")).to_contain_text("مهلت رسیدگی")
        await panel.shot("63-case-breached")
        await panel.close()


async def test_a_supervisor_dismisses_and_marks_seen_many_callbacks(
    db: Database, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None and db.settings.database_url is not None
    now = datetime.now(UTC)
    async with unit_of_work(db.sessionmaker) as session:
        # A supervisor who takes calls too (one without a phone lands on the wallboard).
        await make_user(session, Role.supervisor, username="boss", devices=["PJSIP/1009"])
        for n in range(3):
            session.add(Callback(pbx="pbx1", number=f"0912100000{n}", e164=f"+98912100000{n}",
                                 queue="support", first_call_at=now - timedelta(minutes=n),
                                 last_call_at=now, due_at=now))  # fmt: skip
    conf = settings.model_copy(update={"database_url": db.settings.database_url})
    async with serving(conf) as (port, _app):
        panel = await Panel.open(browser, port)
        page = panel.page
        await panel.sign_in("boss")
        await page.get_by_role("tab", name="تماس‌های برگشتی").click()
        await expect(page.locator("#callbacks-open li.callback")).to_have_count(3)
        bulk = page.locator("#callbacks-bulk")
        await page.get_by_role("checkbox", name="انتخاب تماس برگشتی ۰۹۱۲ ۱۰۰ ۰۰۰۰").check()
        await page.get_by_role("checkbox", name="انتخاب تماس برگشتی ۰۹۱۲ ۱۰۰ ۰۰۰۱").check()
        await expect(bulk.locator(".bulk-picked")).to_have_text("۲ انتخاب شده")
        await bulk.get_by_role("button", name="رد کردن انتخاب‌شده‌ها").click()
        await expect(bulk.get_by_role("alert")).to_have_text("دلیل رد کردن را بنویسید.")
        await bulk.get_by_label("دلیل").fill("تکراری")
        await bulk.get_by_role("button", name="رد کردن انتخاب‌شده‌ها").click()
        await expect(page.locator("#callbacks-status")).to_have_text("۲ تماس برگشتی رد شد.")
        await expect(page.locator("#callbacks-open li.callback")).to_have_count(1)
        await page.get_by_role("checkbox", name="انتخاب تماس برگشتی ۰۹۱۲ ۱۰۰ ۰۰۰۲").check()
        await bulk.get_by_role("button", name="دیده شد").click()
        await expect(page.locator("#callbacks-status")).to_have_text(
            "۱ تماس برگشتی دیده‌شده علامت خورد."
        )
        await expect(page.locator("#callbacks-open li.callback.seen")).to_have_count(1)
        await panel.shot("64-bulk")
        await panel.close()
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Callback).order_by(Callback.number))).scalars().all()
        assert [(c.status, c.done_note, c.seen_at is not None) for c in rows] == [
            ("done", "تکراری", False), ("done", "تکراری", False), ("open", "", True),
        ]  # fmt: skip
