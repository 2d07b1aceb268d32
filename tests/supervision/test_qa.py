"""QA forms: the scoring (weights, not applicable, the critical-fail rule), forms defined by
an admin, a supervisor's review the agent sees, acknowledges or disputes, the trend; and the
old 1-5 review as the built-in form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Role, User
from app.supervision.qa import ScoreError, score
from tests.fixtures.factories import make_token, make_user

SECTIONS = [
    {
        "title": "Opening",
        "questions": [
            {"key": "greet", "text": "Greeted by name", "kind": "yes_no", "weight": 1.0},
            {
                "key": "verify",
                "text": "Verified the customer",
                "kind": "yes_no",
                "weight": 2.0,
                "critical": True,
            },
        ],
    },
    {
        "title": "Handling",
        "questions": [
            {"key": "tone", "text": "Tone", "kind": "scale", "weight": 3.0},
            {"key": "upsell", "text": "Offered the upgrade", "kind": "yes_no", "weight": 1.0},
        ],
    },
]


def test_the_score_is_the_weighted_mean_and_a_critical_no_fails_it() -> None:
    # greet yes (1 x 1), verify yes (2 x 1), tone 4 (3 x 0.75), upsell not applicable.
    scored = score(SECTIONS, {"greet": True, "verify": True, "tone": 4, "upsell": None})
    assert (
        (scored.score, scored.failed)
        == (round(100 * (1 + 2 + 2.25) / 6, 1), False)
        == (87.5, False)
    )
    # The same with the critical question answered no: failed, score 0, the rest kept.
    scored = score(SECTIONS, {"greet": True, "verify": False, "tone": 4})
    assert (scored.score, scored.raw_score, scored.failed) == (0.0, round(100 * 3.25 / 6, 1), True)
    assert scored.failed_on == ("verify",)
    assert score(SECTIONS, {"verify": True, "tone": 1}).score == 40.0  # 2 / (2 + 3)
    for answers, field in (
        ({"greet": True}, "verify"),  # a critical one left out
        ({"verify": True, "tone": 6}, "tone"),
        ({"verify": True, "tone": True}, "tone"),
        ({"verify": 1}, "verify"),
        ({"verify": True, "nope": 1}, "nope"),
    ):
        with pytest.raises(ScoreError) as caught:
            score(SECTIONS, answers)
        assert caught.value.field == field


async def _call(session: AsyncSession, agent: User | None) -> Call:
    call = Call(
        pbx="main",
        linkedid=f"qa-{datetime.now(UTC).timestamp()}",
        direction="inbound",
        outcome="answered",
        answered_by_user_id=agent.id if agent else None,
        started_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    session.add(call)
    await session.flush()
    return call


async def test_a_form_a_review_and_the_agent_answering_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(session, Role.admin)
    boss = await make_user(session, Role.supervisor)
    sara = await make_user(session, devices=["PJSIP/7301"])
    reza = await make_user(session, devices=["PJSIP/7302"])
    h = {
        u.id: {"Authorization": f"Bearer {await make_token(session, settings, u)}"}
        for u in (admin, boss, sara, reza)
    }
    call = await _call(session, sara)

    r = await client.post(
        "/api/supervision/qa/forms",
        json={"name": "Inbound sales", "sections": SECTIONS},
        headers=h[admin.id],
    )
    assert r.status_code == 201, r.text
    form = r.json()
    assert form["sections"][0]["questions"][1]["critical"] is True
    bad = {
        "name": "x",
        "sections": [{"title": "a", "questions": [SECTIONS[0]["questions"][0]] * 2}],
    }
    r = await client.post("/api/supervision/qa/forms", json=bad, headers=h[admin.id])
    assert r.status_code == 422 and "unique" in r.text

    answers = {"greet": True, "verify": False, "tone": 5, "upsell": True}
    r = await client.post(
        "/api/supervision/qa/reviews",
        json={"form_id": form["id"], "call_id": call.id, "answers": answers, "comment": "verify!"},
        headers=h[boss.id],
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["score"], made["failed"], made["agent_user_id"]) == (0.0, True, sara.id)
    assert made["raw_score"] == round(100 * (1 + 3 + 1) / 7, 1)
    r = await client.post(
        "/api/supervision/qa/reviews",
        json={"form_id": form["id"], "call_id": call.id, "answers": {"greet": True}},
        headers=h[boss.id],
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "answers.verify"

    # The agent sees theirs only; someone else's is not found for them.
    mine = (await client.get("/api/supervision/qa/reviews", headers=h[sara.id])).json()
    assert [x["id"] for x in mine] == [made["id"]]
    assert (await client.get("/api/supervision/qa/reviews", headers=h[reza.id])).json() == []
    assert (
        await client.get(f"/api/supervision/qa/reviews/{made['id']}", headers=h[reza.id])
    ).status_code == 404
    r = await client.post(
        f"/api/supervision/qa/reviews/{made['id']}/dispute", json={}, headers=h[sara.id]
    )
    assert r.status_code == 422  # say why
    r = await client.post(
        f"/api/supervision/qa/reviews/{made['id']}/dispute",
        json={"comment": "I did verify, at 00:40"},
        headers=h[sara.id],
    )
    assert r.status_code == 200 and r.json()["status"] == "disputed"
    r = await client.post(
        f"/api/supervision/qa/reviews/{made['id']}/acknowledge", json={}, headers=h[sara.id]
    )
    assert r.status_code == 409  # answered once
    r = await client.post(
        f"/api/supervision/qa/reviews/{made['id']}/acknowledge", json={}, headers=h[boss.id]
    )
    assert r.status_code == 403

    # A second, passing review; the trend per day has both.
    answers = {"greet": True, "verify": True, "tone": 3, "upsell": None}
    r = await client.post(
        "/api/supervision/qa/reviews",
        json={"form_id": form["id"], "call_id": call.id, "answers": answers},
        headers=h[boss.id],
    )
    assert r.json()["score"] == round(100 * (1 + 2 + 1.5) / 6, 1) == 75.0
    today = datetime.now(ZoneInfo(settings.time_zone)).date().isoformat()  # the report's days
    r = await client.get(
        "/api/supervision/qa/trend",
        params={"from": today, "to": today, "by": "day", "agent": sara.id},
        headers=h[boss.id],
    )
    (row,) = r.json()["rows"]
    assert (row["reviews"], row["avg_score"], row["failed"]) == (2, 37.5, 1)

    # The quick 1-5 review is the built-in form, and reads as before.
    r = await client.post(f"/api/calls/{call.id}/reviews", json={"score": 4}, headers=h[boss.id])
    assert r.status_code == 201 and (r.json()["score"], r.json()["percent"]) == (4, 75.0)
    listed = (await client.get(f"/api/calls/{call.id}/reviews", headers=h[sara.id])).json()
    assert [(x["score"], x["failed"]) for x in listed] == [(1, True), (4, False), (4, False)]
    forms = (await client.get("/api/supervision/qa/forms", headers=h[sara.id])).json()
    assert {f["key"] for f in forms} >= {"call-score", None}
    r = await client.put(
        f"/api/supervision/qa/forms/{forms[0]['id']}",
        json={"name": "mine now", "sections": SECTIONS},
        headers=h[admin.id],
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "built_in_form"
