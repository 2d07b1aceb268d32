"""Customer satisfaction (CSAT) from the post-call survey where supervisors read it, in a real
Chromium: on the wallboard (the day's figure, per agent and per queue), in the reports (per
agent and per queue, equal to the API's), and on the call in the history."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Call, Role, User
from app.surveys.service import SurveyService
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import Panel


async def test_csat_on_the_wallboard_in_the_reports_and_on_the_call(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss_token = await make_token(session, settings, boss)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        await replay(sim, "04_queue_answered")

        async def answered() -> bool:
            async with db.sessionmaker() as session:  # type: ignore[union-attr]
                return bool(await session.scalar(select(Call.id).where(Call.outcome == "answered")))

        await eventually(answered)
        async with unit_of_work(db.sessionmaker) as session:
            call = await session.scalar(select(Call).where(Call.outcome == "answered"))
            assert call is not None and call.queue == "support"
            agent = await session.get(User, call.answered_by_user_id)
            assert agent is not None
            # The caller keys 5 for the agent and 3 for the issue: one answer of two is
            # satisfied (4 or 5), so CSAT is 50 %, the average 4.
            stored = await SurveyService(session, settings).from_pbx(
                call.pbx, call.linkedid, {1: 5, 2: 3}
            )
            assert stored.stored == 2
            call_id, name = call.id, agent.full_name

        boss_panel = await Panel.open(browser, port)
        page = boss_panel.page
        await boss_panel.sign_in("boss")
        board = page.locator(".wallboard")
        await expect(board.locator(".conn")).to_have_attribute("data-state", "connected")
        counter = board.locator('[data-counter="wall_csat"]')
        await expect(counter).to_contain_text("رضایت مشتری (CSAT)")
        await expect(counter.locator("dd")).to_have_text("۵۰٪")
        await expect(counter).to_have_attribute("title", "۲ پاسخ نظرسنجی امروز، ۱ راضی (۴ یا ۵)")
        row = board.locator(f'.wall-agents li[data-agent="{call.answered_by_user_id}"]')
        await expect(row.locator('[data-figure="csat"]')).to_have_text("رضایت ۵۰٪")
        others = board.locator('.wall-agents li [data-figure="csat"]')
        await expect(others).to_have_count(1)  # agents nobody rated show none
        queue = board.locator('[data-queue="support"] [data-figure="csat"]')
        await expect(queue).to_have_text("رضایت ۵۰٪")

        # The reports: per agent and per queue, the API's figures.
        await page.get_by_role("link", name="گزارش‌ها").click()
        await (
            page.locator(".reports-view form.filters")
            .get_by_role("button", name="نمایش گزارش")
            .click()
        )
        by_agent = page.locator('table.csat-report[data-by="agent"]')
        await expect(by_agent.locator("caption")).to_have_text(
            "رضایت مشتری (CSAT) به تفکیک کارشناس"
        )
        [agent_row] = await by_agent.locator("tbody tr").all()
        await expect(agent_row.locator("th")).to_have_text(name)
        await expect(agent_row.locator('[data-col="answers"]')).to_have_text("۲")
        await expect(agent_row.locator('[data-col="satisfied"]')).to_have_text("۱")
        await expect(agent_row.locator('[data-col="csat_pct"]')).to_have_text("۵۰٪")
        await expect(agent_row.locator('[data-col="avg_score"]')).to_have_text("۴.۰")
        await expect(agent_row.locator('[data-col="q1_avg"]')).to_have_text("۵.۰")
        by_queue = page.locator('table.csat-report[data-by="queue"] tbody tr')
        await expect(by_queue).to_have_count(1)
        await expect(by_queue.locator("th")).to_have_text("support")
        await expect(by_queue.locator('[data-col="csat_pct"]')).to_have_text("۵۰٪")
        today = settings.today().isoformat()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get(
                "/api/reports/csat",
                params={"from": today, "to": today, "by": "agent"},
                headers={"Authorization": f"Bearer {boss_token}"},
            )
        [api_row] = response.json()["rows"]
        assert (api_row["answers"], api_row["satisfied"], api_row["csat_pct"]) == (2, 1, 50.0)

        # The call in the history: the caller's two answers.
        await page.get_by_role("link", name="تاریخچه").click()
        await (
            page.locator(f'.history-list tbody tr[data-call="{call_id}"]')
            .get_by_role("button")
            .first.click()
        )
        answers = page.locator(".call-view .survey-answers li")
        await expect(answers).to_have_count(2)
        await expect(answers.nth(0)).to_contain_text("رضایت از پاسخگویی کارشناس: ۵ از ۵")
        await expect(answers.nth(1)).to_contain_text("حل شدن مشکل: ۳ از ۵")
        await expect(answers.nth(0)).to_contain_text("(با تلفن)")
        await boss_panel.shot("41-csat")
        await boss_panel.close()
