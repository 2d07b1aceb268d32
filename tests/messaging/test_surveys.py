"""Post-call surveys: the dialplan's answers (GET /pbx/survey with the PBX token) stored on
the call and on the agent who answered it, bad keys refused and said so, a repeated request
counted once; the SMS link for calls that took no IVR survey (queued by the worker's sweep,
sent through the fake provider, its page storing the answers once); CSAT in the report
equal to counts made by hand, per agent, queue and period."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.db import Database, unit_of_work
from app.messaging.providers import build_provider
from app.messaging.repository import OutboxRepository
from app.messaging.worker import OutboxWorker
from app.models import Call, CallCustomer, Role, SmsMessage, SurveyAnswer, User
from app.surveys.service import SurveyService, read_token
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.fixtures.sms_provider import FakeSms
from tests.messaging.conftest import sms_settings
from tests.telephony.replay import replay, trace_events

PBX_TOKEN = "pbx-token-for-the-survey-tests"
_linkedids = itertools.count(1)
AUTH = {"Authorization": f"Bearer {PBX_TOKEN}"}


def with_pbx(settings: Settings) -> Settings:
    pbx = PbxSettings(
        id="pbx1", host="127.0.0.1", port=1, username="u", secret=SecretStr("s"),
        token=SecretStr(PBX_TOKEN),
    )  # fmt: skip
    return settings.model_copy(update={"pbxes": [pbx]})


@pytest.fixture
def conf(app: FastAPI, settings: Settings) -> Iterator[Settings]:
    conf = with_pbx(settings)
    app.state.settings = conf
    yield conf
    app.state.settings = settings


def lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


async def answers_of(session: AsyncSession, call_id: int) -> list[tuple[int, int, int | None, str]]:
    stmt = (
        select(SurveyAnswer.question, SurveyAnswer.score, SurveyAnswer.agent_user_id,
               SurveyAnswer.channel)
        .where(SurveyAnswer.call_id == call_id)
        .order_by(SurveyAnswer.question)
    )  # fmt: skip
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]


async def test_the_dialplans_answers_are_stored_on_the_call_and_the_agent(
    app: FastAPI, session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    _, events = replay("01_direct_answered")
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    call = (await session.execute(select(Call))).scalar_one()
    url = f"/pbx/survey?linkedid={call.linkedid}"

    # The PBX's token, as every /pbx/ endpoint: none, or a user's, is refused.
    assert (await client.get(f"{url}&q1=5")).status_code == 401
    user = {"Authorization": f"Bearer {await make_token(session, conf, sara)}"}
    assert (await client.get(f"{url}&q1=5", headers=user)).status_code == 401
    assert await answers_of(session, call.id) == []

    r = await client.get(f"{url}&q1=5&q2=۴", headers=AUTH)  # Persian digits too
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert lines(r.text) == {
        "found": "1", "stored": "2", "valid": "2", "refused": "", "reason": "",
    }  # fmt: skip
    assert await answers_of(session, call.id) == [(1, 5, sara.id, "ivr"), (2, 4, sara.id, "ivr")]

    # The same request again (a retried CURL), or other keys later: the first answers stay.
    r = await client.get(f"{url}&q1=5&q2=4&format=hash", headers=AUTH)
    assert r.text == "found=1&stored=0&valid=2&refused=&reason="
    r = await client.get(f"{url}&q1=1&format=json", headers=AUTH)
    assert r.json()["stored"] == "0"
    assert await answers_of(session, call.id) == [(1, 5, sara.id, "ivr"), (2, 4, sara.id, "ivr")]

    # The agent sees them on the call; a colleague cannot open the call.
    got = (await client.get(f"/api/calls/{call.id}/survey", headers=user)).json()
    assert [(a["question"], a["score"], a["agent_user_id"]) for a in got] == [
        (1, 5, sara.id), (2, 4, sara.id),
    ]  # fmt: skip
    reza = await make_user(session, Role.agent, devices=["PJSIP/1003"])
    other = {"Authorization": f"Bearer {await make_token(session, conf, reza)}"}
    assert (await client.get(f"/api/calls/{call.id}/survey", headers=other)).status_code == 404


async def test_bad_answers_are_refused_and_said_so(
    app: FastAPI, session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    await make_user(session, Role.agent, devices=["PJSIP/1001"])
    recorder = InlineRecorder(app.state.sessionmaker, settings=conf)
    _, answered = replay("01_direct_answered")
    _, missed = replay("02_direct_noanswer")
    await recorder(answered)
    await recorder(missed)
    calls = {c.outcome: c for c in (await session.execute(select(Call))).scalars()}
    url = f"/pbx/survey?linkedid={calls['answered'].linkedid}"

    # Keys that are not 1 to 5 (0, 9, *, two digits) are no answer, and named.
    r = await client.get(f"{url}&q1=9&q2=*", headers=AUTH)
    assert lines(r.text) == {
        "found": "1", "stored": "0", "valid": "0", "refused": "q1,q2",
        "reason": "no answer 1 to 5",
    }  # fmt: skip
    r = await client.get(f"{url}&q1=45&q2=3", headers=AUTH)
    assert (lines(r.text)["stored"], lines(r.text)["refused"]) == ("1", "q1")
    # Nothing pressed (Read timed out): not refused, just not answered.
    r = await client.get(f"{url}&q1=&q2=", headers=AUTH)
    assert (lines(r.text)["refused"], lines(r.text)["reason"]) == ("", "no answer 1 to 5")
    assert await answers_of(session, calls["answered"].id) == [
        (2, 3, calls["answered"].answered_by_user_id, "ivr")
    ]

    # An unknown call, a call no agent answered.
    r = await client.get("/pbx/survey?linkedid=1700000000.999&q1=5", headers=AUTH)
    assert lines(r.text) == {
        "found": "0", "stored": "0", "valid": "1", "refused": "", "reason": "no such call",
    }  # fmt: skip
    r = await client.get(f"/pbx/survey?linkedid={calls['missed'].linkedid}&q1=5", headers=AUTH)
    assert lines(r.text)["reason"] == "the call was not answered by an agent"
    assert await answers_of(session, calls["missed"].id) == []

    # A malformed request: a clear 422 naming the field.
    r = await client.get("/pbx/survey?q1=5", headers=AUTH)
    assert r.status_code == 422 and "linkedid" in r.text
    r = await client.get(f"{url}&q1=123456789", headers=AUTH)
    assert r.status_code == 422 and "q1" in r.text


async def make_call(
    session: AsyncSession,
    agent: User | None,
    queue: str,
    ended: datetime,
    *,
    number: str = "+989121234567",
    linkedid: str | None = None,
) -> Call:
    call = Call(
        pbx="pbx1", linkedid=linkedid or f"{ended.timestamp():.0f}.{next(_linkedids)}",
        direction="inbound", customer_number="09121234567", customer_e164=number, queue=queue,
        answered_by="PJSIP/1001" if agent else "", answered_by_user_id=agent.id if agent else None,
        outcome="answered" if agent else "missed", started_at=ended - timedelta(minutes=3),
        answered_at=ended - timedelta(minutes=2) if agent else None, ended_at=ended,
    )  # fmt: skip
    session.add(call)
    await session.flush()
    return call


async def test_csat_in_the_report_equals_counts_by_hand(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    tz = ZoneInfo(settings.time_zone)
    sara = await make_user(session, Role.agent)
    reza = await make_user(session, Role.agent)
    sara.full_name, reza.full_name = "سارا", "رضا"
    boss = await make_user(session, Role.supervisor)
    day1 = datetime(2026, 11, 10, 10, 0, tzinfo=tz)  # 1405-08-19
    day2 = datetime(2026, 11, 11, 23, 30, tzinfo=tz)  # late: still the 11th in Tehran
    outside = datetime(2026, 11, 12, 9, 0, tzinfo=tz)
    # (agent, queue, answered at, q1, q2)
    survey = [
        (sara, "support", day1, 5, 4),
        (sara, "support", day1, 3, None),
        (sara, "sales", day2, 4, 5),
        (reza, "support", day1, 1, 2),
        (reza, "support", day2, 5, None),
        (reza, "sales", outside, 5, 5),  # after the period
    ]
    for agent, queue, at, q1, q2 in survey:
        call = await make_call(session, agent, queue, at)
        for question, score in ((1, q1), (2, q2)):
            if score is not None:
                session.add(
                    SurveyAnswer(call_id=call.id, question=question, score=score,
                                 agent_user_id=agent.id, queue=queue, answered_at=at)
                )  # fmt: skip
    await session.flush()
    h = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    period = "from=2026-11-10&to=2026-11-11"

    def figures(rows: list[dict[str, object]]) -> dict[object, tuple[object, ...]]:
        return {
            r["label"]: (r["answers"], r["calls"], r["satisfied"], r["csat_pct"], r["avg_score"],
                         r["q1_avg"], r["q2_avg"])
            for r in rows
        }  # fmt: skip

    # By hand. Sara: answers 5 4 3 4 5 (5 answers, 3 calls), satisfied 4 of 5 = 80 %,
    # average 21/5 = 4.2, q1 (5+3+4)/3 = 4.0, q2 (4+5)/2 = 4.5.
    # Reza: 1 2 5 (3 answers, 2 calls), satisfied 1 of 3 = 33.3 %, average 8/3 = 2.67,
    # q1 (1+5)/2 = 3.0, q2 2.0. His sales call is after the period.
    r = await client.get(f"/api/reports/csat?{period}&by=agent", headers=h)
    assert r.status_code == 200
    assert figures(r.json()["rows"]) == {
        "سارا": (5, 3, 4, 80.0, 4.2, 4.0, 4.5),
        "رضا": (3, 2, 1, 33.3, 2.67, 3.0, 2.0),
    }
    # Queues. support: 5 4 3 1 2 5 (6 answers, 4 calls), satisfied 3 = 50 %, 20/6 = 3.33,
    # q1 (5+3+1+5)/4 = 3.5, q2 (4+2)/2 = 3.0. sales: 4 5: 2 answers, 1 call, 100 %, 4.5.
    r = await client.get(f"/api/reports/csat?{period}&by=queue", headers=h)
    assert figures(r.json()["rows"]) == {
        "sales": (2, 1, 2, 100.0, 4.5, 4.0, 5.0),
        "support": (6, 4, 3, 50.0, 3.33, 3.5, 3.0),
    }
    # Days, in Tehran's time. The 10th: 5 4 3 1 2; the 11th: 4 5 5.
    r = await client.get(f"/api/reports/csat?{period}&by=day", headers=h)
    assert figures(r.json()["rows"]) == {
        "2026-11-10": (5, 3, 2, 40.0, 3.0, 3.0, 3.0),
        "2026-11-11": (3, 2, 3, 100.0, 4.67, 4.5, 5.0),
    }
    # One queue only, in a Jalali period: support on 1405-08-19..20 (the 10th and 11th).
    r = await client.get("/api/reports/csat?from=1405-08-19&to=1405-08-20&by=agent&queue=support",
                         headers=h)  # fmt: skip
    assert figures(r.json()["rows"]) == {
        "سارا": (3, 2, 2, 66.7, 4.0, 4.0, 4.0),
        "رضا": (3, 2, 1, 33.3, 2.67, 3.0, 2.0),
    }
    # An agent sees their own figures only, whatever they ask for.
    mine = {"Authorization": f"Bearer {await make_token(session, settings, reza)}"}
    r = await client.get(f"/api/reports/csat?{period}&by=queue&agent={sara.id}", headers=mine)
    assert r.json()["by"] == "agent" and figures(r.json()["rows"]) == {
        "رضا": (3, 2, 1, 33.3, 2.67, 3.0, 2.0)
    }


async def test_the_sms_link_goes_to_calls_without_an_ivr_survey(
    outbox_db: Database, settings: Settings, fake: FakeSms
) -> None:
    conf = sms_settings(settings, fake, survey_link_delay_minutes=10)
    assert outbox_db.sessionmaker is not None
    now = datetime.now(UTC)
    async with unit_of_work(outbox_db.sessionmaker) as session:
        await OutboxRepository(session).put_trigger(
            "survey_link", True, "{name} عزیز، نظر شما درباره تماس با {agent}: {link}", "{link}"
        )
        agent = await make_user(session, Role.agent)
        agent.full_name = "سارا"
        ali = await make_customer(session, conf, "علی رضایی", ("09121234567",))
        owed = await make_call(session, agent, "support", now - timedelta(minutes=15))
        session.add(CallCustomer(call_id=owed.id, customer_id=ali.id))
        rated = await make_call(session, agent, "support", now - timedelta(minutes=15),
                                number="+989351112233")  # fmt: skip
        session.add(SurveyAnswer(call_id=rated.id, question=1, score=5, agent_user_id=agent.id))
        recent = await make_call(
            session, agent, "support", now - timedelta(minutes=2), number="+989131112233"
        )  # too soon: the caller may be on it
        missed = await make_call(session, None, "support", now - timedelta(minutes=15),
                                 number="+989141112233")  # fmt: skip
    worker = OutboxWorker(outbox_db.sessionmaker, conf, build_provider(conf), name="w")
    try:
        assert await worker.sweep(force=True) == 1
        assert await worker.sweep(force=True) == 0  # the next sweep, another instance
        assert await worker.run_once() == 1
    finally:
        await worker.stop()
    async with unit_of_work(outbox_db.sessionmaker) as session:
        (sms,) = (await session.execute(select(SmsMessage))).scalars()
    assert (sms.trigger, sms.call_id, sms.customer_id, sms.status) == (
        "survey_link", owed.id, ali.id, "sent",
    )  # fmt: skip
    # What the provider got: the template filled in, the link signed for that call.
    sent = fake.texts[str(sms.id)]
    assert sent["receptor"] == "09121234567"
    prefix = f"علی رضایی عزیز، نظر شما درباره تماس با سارا: {conf.public_url}/survey/"
    assert sent["message"].startswith(prefix)
    token = sent["message"].removeprefix(prefix)
    assert read_token(conf.secret_key.get_secret_value(), token) == owed.id
    assert {rated.id, recent.id, missed.id}.isdisjoint({sms.call_id})


async def test_the_links_page_stores_the_answers_once(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent)
    call = await make_call(session, sara, "support", datetime.now(UTC) - timedelta(minutes=20))
    link = SurveyService(session, settings).link(call.id)
    path = link.removeprefix(settings.public_url.rstrip("/"))
    page = await client.get(path)
    assert page.status_code == 200 and 'name="q1"' in page.text and 'dir="rtl"' in page.text
    r = await client.post(path, data={"q1": "9"})
    assert r.status_code == 422 and "q1" in r.text
    r = await client.post(path, data={"q1": "۴", "q2": "5"})
    assert r.status_code == 200 and "ثبت شد" in r.text
    assert await answers_of(session, call.id) == [(1, 4, sara.id, "sms"), (2, 5, sara.id, "sms")]
    await client.post(path, data={"q1": "1", "q2": "1"})  # opened again: the first answers stay
    assert await answers_of(session, call.id) == [(1, 4, sara.id, "sms"), (2, 5, sara.id, "sms")]
    assert "پیش‌تر ثبت شده" in (await client.get(path)).text
    # A link signed for another call, or changed by a character, opens nothing.
    assert (
        await client.get(path[:-3] + ("AAA" if path[-3:] != "AAA" else "BBB"))
    ).status_code == 404


async def test_the_keys_a_real_asterisk_sent(
    app: FastAPI, session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    """L7 (a real Asterisk's survey, keys 4 and 2): the call as the listener stored it, and
    the request [tamas-survey-post] makes with the keys the trace shows it was given."""
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    _, events = replay("L7_survey")
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    [post] = [
        e
        for e in trace_events("L7_survey")
        if e.name == "Newexten" and e.get("AppData").startswith("tamas-survey-post,s,1(")
    ]
    q1, q2 = post.get("AppData").removeprefix("tamas-survey-post,s,1(").rstrip(")").split(",")
    assert (q1, q2) == ("4", "2")
    call = (await session.execute(select(Call))).scalar_one()
    assert post.get("Linkedid") == call.linkedid
    r = await client.get(
        f"/pbx/survey?linkedid={call.linkedid}&q1={q1}&q2={q2}&format=hash", headers=AUTH
    )
    assert r.text == "found=1&stored=2&valid=2&refused=&reason="
    user = {"Authorization": f"Bearer {await make_token(session, conf, sara)}"}
    got = (await client.get(f"/api/calls/{call.id}/survey", headers=user)).json()
    assert [(a["question"], a["score"], a["agent_user_id"], a["queue"]) for a in got] == [
        (1, 4, sara.id, "support"), (2, 2, sara.id, "support"),
    ]  # fmt: skip
    assert (call.hung_up_by, call.answered_by) == ("agent", "PJSIP/1001")
