"""QA in Chromium: a supervisor reviews a call with a form in the call view (where its
recording plays), a critical question fails it; the agent sees the review, disputes it;
the supervisor sees the agent's trend drawn."""

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
        session.add(
            Call(
                pbx="hub-test",
                linkedid="qa-page-1",
                direction="inbound",
                outcome="answered",
                caller_number="09121234567",
                customer_number="09121234567",
                answered_by_user_id=sara.id,
                started_at=datetime.now(UTC) - timedelta(hours=1),
                answered_at=datetime.now(UTC) - timedelta(hours=1),
                ended_at=datetime.now(UTC) - timedelta(minutes=55),
                talk_seconds=300,
            )
        )
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


async def test_an_admin_builds_a_form(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await make_user(session, Role.admin, username="chief")
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        admin = await Panel.open(browser, port)
        page = admin.page
        await admin.sign_in("chief")
        await page.get_by_role("link", name="ارزیابی کیفیت").click()
        builder = page.locator(".qa-builder")
        await builder.get_by_label("نام فرم").fill("پشتیبانی")
        await builder.get_by_label("عنوان بخش").fill("آغاز تماس")
        first = builder.locator(".qa-builder-question").nth(0)
        await first.get_by_label("متن پرسش").fill("هویت مشتری را پرسید؟")
        await first.get_by_label("حیاتی").check()
        await builder.get_by_role("button", name="افزودن پرسش").click()
        second = builder.locator(".qa-builder-question").nth(1)
        await second.get_by_label("متن پرسش").fill("لحن")
        await second.get_by_label("نوع پاسخ").select_option("scale")
        await second.get_by_label("وزن").fill("۳")
        await builder.get_by_role("button", name="ذخیره فرم").click()
        await expect(builder.get_by_role("status")).to_have_text("فرم «پشتیبانی» ذخیره شد.")
        await admin.close()
    async with db.sessionmaker() as session:
        form = (await session.execute(select(QaForm).where(QaForm.name == "پشتیبانی"))).scalar_one()
    assert form.sections == [
        {
            "title": "آغاز تماس",
            "questions": [
                {
                    "key": "q1",
                    "text": "هویت مشتری را پرسید؟",
                    "kind": "yes_no",
                    "weight": 1.0,
                    "critical": True,
                },
                {"key": "q2", "text": "لحن", "kind": "scale", "weight": 3.0, "critical": False},
            ],
        }
    ]
