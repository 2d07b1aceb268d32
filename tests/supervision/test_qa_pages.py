"""QA in Chromium: a supervisor reviews a call with a form in the call view (where its
recording plays), a critical question fails it; the agent sees the review, disputes it;
the supervisor sees the agent's trend drawn. An admin makes a form in the QA forms view
(what is missing said in Persian), a supervisor reviews with it, the admin changes and
retires it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Call, QaForm, QaReview, Role, User
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium
from tests.supervision.test_qa import SECTIONS


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


def answered_call(agent_id: int, linkedid: str) -> Call:
    """An inbound call the agent answered an hour ago."""
    return Call(
        pbx="hub-test",
        linkedid=linkedid,
        direction="inbound",
        outcome="answered",
        caller_number="09121234567",
        customer_number="09121234567",
        answered_by_user_id=agent_id,
        started_at=datetime.now(UTC) - timedelta(hours=1),
        answered_at=datetime.now(UTC) - timedelta(hours=1),
        ended_at=datetime.now(UTC) - timedelta(minutes=55),
        talk_seconds=300,
    )


async def test_a_review_with_a_form_reaches_the_agent_who_disputes_it(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
        sara = (await session.execute(select(User).where(User.username == "sara"))).scalar_one()
        session.add(QaForm(name="فروش ورودی", description="", sections=SECTIONS, is_active=True))
        session.add(answered_call(sara.id, "qa-page-1"))
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        agent = await Panel.open(browser, port)
        await agent.sign_in("sara")
        boss_panel = await Panel.open(browser, port)
        page = boss_panel.page
        await boss_panel.sign_in("boss")
        await page.get_by_role("link", name="تاریخچه").click()
        await page.locator(".history-list tbody tr").first.get_by_role("button").click()
        view = page.locator(".call-view")
        qa = view.locator(".qa-form")
        await qa.get_by_label("فرم ارزیابی").select_option(label="فروش ورودی")
        await qa.get_by_label("Greeted by name").select_option("yes")
        await qa.get_by_label("Verified the customer (حیاتی)").select_option("no")
        await qa.get_by_label("Tone").select_option("5")
        await qa.get_by_label("یادداشت ارزیابی").fill("هویت مشتری پرسیده نشد")
        await qa.get_by_role("button", name="ثبت ارزیابی").click()
        await expect(qa.get_by_role("status")).to_have_text("ارزیابی ثبت شد: مردود در پرسش حیاتی")
        await expect(view.locator(".review-list")).to_contain_text("مردود (پرسش حیاتی)")
        # The agent is told at once, as with the quick score.
        await expect(agent.page.locator(".review-notice")).to_contain_text("نگار سرپرست")

        await agent.page.get_by_role("link", name="ارزیابی کیفیت").click()
        mine = agent.page.locator(".qa-view .qa-review")
        await expect(mine).to_have_count(1)
        await expect(mine).to_contain_text("مردود (پرسش حیاتی)")
        await expect(mine.locator('[data-question="verify"]')).to_contain_text("خیر")
        await expect(mine.locator('[data-question="upsell"]')).to_contain_text("مربوط نیست")
        await mine.get_by_label("توضیح شما (برای اعتراض لازم است)").fill("پرسیدم، دقیقه اول")
        await mine.get_by_role("button", name="اعتراض").click()
        await expect(mine).to_have_attribute("data-status", "disputed")
        await expect(mine).to_contain_text("کارشناس اعتراض کرد")

        await page.get_by_role("link", name="ارزیابی کیفیت").click()
        board = page.locator(".qa-view")
        await board.get_by_label("کارشناس", exact=True).select_option(label="سارا احمدی")
        await expect(board.locator(".qa-trend-table tbody tr")).to_have_count(1)
        drawn = await page.evaluate(
            "() => Boolean(Chart.getChart(document.querySelector('.qa-trend canvas')))"
        )
        assert drawn
        await expect(board.locator(".qa-review")).to_contain_text("پرسیدم، دقیقه اول")
        await agent.close()
        await boss_panel.close()
    async with db.sessionmaker() as session:
        (review,) = (await session.execute(select(QaReview))).scalars().all()
    assert (review.failed, review.status, review.score) == (True, "disputed", 0.0)


async def test_an_admin_makes_and_changes_a_form_that_a_reviewer_then_uses(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.admin, username="chief")
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
        sara = (await session.execute(select(User).where(User.username == "sara"))).scalar_one()
        session.add(answered_call(sara.id, "qa-forms-1"))
        session.add(QaForm(name="فروش تلفنی", description="", sections=SECTIONS, is_active=True))
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        chief = await Panel.open(browser, port)
        page = chief.page
        await chief.sign_in("chief")
        await page.get_by_role("link", name="فرم‌های ارزیابی").click()
        view = page.locator(".qa-forms-view")
        await expect(view.get_by_role("heading", name="فرم‌های ارزیابی کیفیت")).to_be_focused()
        assert await page.evaluate("document.documentElement.dir") == "rtl"
        # The built-in call score is listed, and cannot be changed.
        builtin = view.locator("table.qa-forms tbody tr").filter(has_text="فرم پیش‌فرض")
        await expect(builtin).to_have_count(1)
        await expect(builtin.get_by_role("button")).to_have_count(0)

        editor = view.locator("form.qa-builder")
        # Nothing filled in, and a weight that is not one: said in Persian by each input.
        first = editor.locator(".qa-builder-question").nth(0)
        await first.get_by_label("وزن").fill("صفر")
        await editor.get_by_role("button", name="ذخیره فرم").click()
        await expect(editor.get_by_role("alert").first).to_have_text(
            "فرم ذخیره نشد: موارد نشان‌داده‌شده را درست کنید."
        )
        await expect(editor.get_by_label("نام فرم")).to_have_attribute("aria-invalid", "true")
        await expect(editor.locator(".field-error")).to_have_text(
            [
                "نام فرم را بنویسید.",
                "عنوان بخش را بنویسید.",
                "متن پرسش را بنویسید.",
                "وزن باید عددی بزرگ‌تر از صفر و حداکثر ۱۰۰ باشد.",
            ]
        )
        await expect(editor.get_by_label("نام فرم")).to_be_focused()
        await chief.shot("qa-forms-errors")

        await editor.get_by_label("نام فرم").fill("پشتیبانی")
        await editor.get_by_label("عنوان بخش").fill("آغاز تماس")
        await first.get_by_label("متن پرسش").fill("هویت مشتری را پرسید؟")
        await first.get_by_label("وزن").fill("۱")
        await first.get_by_label("حیاتی").check()
        await editor.get_by_role("button", name="افزودن پرسش").click()
        second = editor.locator(".qa-builder-question").nth(1)
        await expect(second.get_by_label("متن پرسش")).to_be_focused()
        await second.get_by_label("متن پرسش").fill("لحن")
        await second.get_by_label("نوع پاسخ").select_option("scale")
        await second.get_by_label("وزن").fill("۳")
        await editor.get_by_role("button", name="افزودن بخش").click()
        closing = editor.locator(".qa-builder-section").nth(1)
        await expect(closing.locator("legend").first).to_have_text("بخش ۲")
        await closing.get_by_label("عنوان بخش").fill("پایان تماس")
        await closing.get_by_label("متن پرسش").fill("خداحافظی گرم")
        await closing.get_by_label("وزن").fill("۱٫۵")
        await editor.get_by_role("button", name="ذخیره فرم").click()
        await expect(editor.get_by_role("status")).to_have_text("فرم «پشتیبانی» ذخیره شد.")
        await expect(editor.locator(".field-error")).to_have_count(0)
        row = view.locator("table.qa-forms tbody tr").filter(has_text="پشتیبانی")
        await expect(row).to_contain_text("۳")
        await expect(row).to_contain_text("در حال استفاده")
        await chief.shot("qa-forms-saved")
        async with db.sessionmaker() as session:
            form = (
                await session.execute(select(QaForm).where(QaForm.name == "پشتیبانی"))
            ).scalar_one()
        assert form.sections == [
            {
                "title": "آغاز تماس",
                "questions": [
                    {"key": "q1", "text": "هویت مشتری را پرسید؟", "kind": "yes_no",
                     "weight": 1.0, "critical": True},
                    {"key": "q2", "text": "لحن", "kind": "scale", "weight": 3.0,
                     "critical": False},
                ],
            },
            {
                "title": "پایان تماس",
                "questions": [
                    {"key": "q3", "text": "خداحافظی گرم", "kind": "yes_no", "weight": 1.5,
                     "critical": False},
                ],
            },
        ]  # fmt: skip

        # A supervisor reviews Sara's call with it while it is in use.
        boss_panel = await Panel.open(browser, port)
        await boss_panel.sign_in("boss")
        await boss_panel.page.get_by_role("link", name="تاریخچه").click()
        await boss_panel.page.locator(".history-list tbody tr").first.get_by_role("button").click()
        qa = boss_panel.page.locator(".call-view .qa-form")
        await qa.get_by_label("فرم ارزیابی").select_option(label="پشتیبانی")
        await qa.get_by_label("هویت مشتری را پرسید؟ (حیاتی)").select_option("yes")
        await qa.get_by_label("لحن").select_option("4")
        await qa.get_by_label("خداحافظی گرم").select_option("no")
        await qa.get_by_role("button", name="ثبت ارزیابی").click()
        # (1 + 3 x 3/4 + 0) / 5.5 = 59.1 %
        await expect(qa.get_by_role("status")).to_have_text("ارزیابی ثبت شد: ۵۹٫۱٪")

        # The admin changes it (a question reworded, the second section gone) and then
        # retires it: the review keeps its questions, and reviewers are offered it no more.
        await row.get_by_role("button", name="ویرایش پشتیبانی").click()
        await expect(view.get_by_role("heading", name="ویرایش فرم «پشتیبانی»")).to_be_focused()
        await expect(editor.get_by_label("نام فرم")).to_have_value("پشتیبانی")
        await expect(editor.locator(".qa-builder-question")).to_have_count(3)
        await (
            editor.locator(".qa-builder-question").nth(1).get_by_label("متن پرسش").fill("لحن و ادب")
        )
        await (
            editor.locator(".qa-builder-section")
            .nth(1)
            .get_by_role("button", name="حذف این بخش")
            .click()
        )
        await expect(editor.locator(".qa-builder-section")).to_have_count(1)
        await editor.get_by_role("button", name="ذخیره فرم").click()
        await expect(editor.get_by_role("status")).to_have_text("فرم «پشتیبانی» ذخیره شد.")
        await expect(row).to_contain_text("۲")
        await row.get_by_role("button", name="کنار گذاشتن پشتیبانی").click()
        await expect(row).to_contain_text("کنار گذاشته")
        await expect(row).to_have_attribute("data-active", "false")
        async with db.sessionmaker() as session:
            form = (
                await session.execute(select(QaForm).where(QaForm.name == "پشتیبانی"))
            ).scalar_one()
            (review,) = (await session.execute(select(QaReview))).scalars().all()
        assert not form.is_active
        assert [q["key"] for s in form.sections for q in s["questions"]] == ["q1", "q2"]
        assert form.sections[0]["questions"][1]["text"] == "لحن و ادب"
        assert (review.form_id, review.score, len(review.sections)) == (form.id, 59.1, 2)

        # The call view keeps its review form while it shows that call: a fresh page.
        await boss_panel.page.reload()
        await expect(boss_panel.page.locator("#app")).to_be_visible()
        await boss_panel.page.get_by_role("link", name="تاریخچه").click()
        await boss_panel.page.locator(".history-list tbody tr").first.get_by_role("button").click()
        picker = boss_panel.page.locator(".call-view .qa-form").get_by_label("فرم ارزیابی")
        await expect(picker.locator("option", has_text="فروش تلفنی")).to_have_count(1)  # loaded
        await expect(picker.locator("option", has_text="پشتیبانی")).to_have_count(0)
        await boss_panel.close()
        # English second: the view and its editor relabelled in place, left to right.
        await page.get_by_role("button", name="English").click()
        await expect(view.get_by_role("heading", name="QA review forms")).to_be_visible()
        assert await page.evaluate("document.documentElement.dir") == "ltr"
        await expect(editor.locator(".qa-builder-section legend").first).to_have_text("Section 1")
        await expect(editor.get_by_role("button", name="Save the form")).to_be_visible()
        await expect(row).to_contain_text("retired")
        await chief.close()
