"""The migration that made the single 1-5 review a QA form: every old review is a review of
the built-in "call score" form, with the same score, comment, people and time."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import upgrade


async def test_old_reviews_become_reviews_of_the_call_score_form(scratch_url: str) -> None:
    engine = create_async_engine(scratch_url)
    try:
        await upgrade(engine, "b16a5e550002")
        async with engine.begin() as conn:
            user = (
                await conn.execute(
                    text(
                        "INSERT INTO users (username, full_name, role, password_hash, is_active)"
                        " VALUES ('old-boss', '', 'supervisor', 'x', true) RETURNING id"
                    )
                )
            ).scalar_one()
            call = (
                await conn.execute(
                    text(
                        "INSERT INTO calls (pbx, linkedid, direction, outcome, started_at, "
                        "caller_number, caller_name, called_number, customer_number, did, queue,"
                        " answered_by, hangup_cause, hangup_cause_text, dial_status, hung_up_by,"
                        " wait_seconds, talk_seconds, hold_seconds, recordings, rings,"
                        " transfers, end_reason, disposition) VALUES ('m', 'x', 'inbound',"
                        " 'answered', now(), '', '', '', '', '', '', '', '', '', '', '', 0, 0,"
                        " 0, '{}', '[]', '[]', '', '') RETURNING id"
                    )
                )
            ).scalar_one()
            for score, comment in ((1, "بد"), (5, "عالی")):
                await conn.execute(
                    text(
                        "INSERT INTO call_reviews (call_id, reviewer_user_id, agent_user_id,"
                        " score, comment) VALUES (:c, :u, NULL, :s, :m)"
                    ),
                    {"c": call, "u": user, "s": score, "m": comment},
                )
        await upgrade(engine, "head")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT f.key, r.call_id, r.reviewer_user_id, r.answers, r.score,"
                        " r.failed, r.comment, r.status FROM qa_reviews r"
                        " JOIN qa_forms f ON f.id = r.form_id ORDER BY r.id"
                    )
                )
            ).all()
            gone = (await conn.execute(text("SELECT to_regclass('call_reviews')"))).scalar()
        assert [tuple(r) for r in rows] == [
            ("call-score", call, user, {"score": 1}, 0.0, False, "بد", "submitted"),
            ("call-score", call, user, {"score": 5}, 100.0, False, "عالی", "submitted"),
        ]
        assert gone is None
    finally:
        await engine.dispose()
