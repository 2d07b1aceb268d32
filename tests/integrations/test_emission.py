"""Events written where they happen, in the same transaction: calls stored from the recorded
traces (ringing, answered, ended with the log), tracking codes, callbacks, recordings. Every
payload matches its JSON Schema in app/integrations/payloads/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.integrations import events as ev
from app.integrations.service import IntegrationService
from app.models import Call, IntegrationEvent, Recording, Role, WebhookDelivery
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.recordings.support import TRACE_FILE, check, tone
from tests.telephony.replay import replay

PAYLOADS = Path(__file__).resolve().parents[2] / "app" / "integrations" / "payloads"
PBX = "hooks"


def schema_of(event_type: str) -> Draft202012Validator:
    schema = json.loads((PAYLOADS / f"{event_type}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def conforming(payload: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in schema_of(payload["type"]).iter_errors(payload)]
    assert not errors, (payload["type"], errors)
    return payload


@pytest.fixture
def conf(app: FastAPI, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    conf = settings.model_copy(update={"recordings_root": tmp_path / "spool"})
    before = app.state.settings
    app.state.settings = conf
    yield conf
    app.state.settings = before


async def store(app: FastAPI, conf: Settings, trace: str) -> None:
    _, events = replay(trace, pbx=PBX)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)


async def emitted(session: AsyncSession, after: int = 0) -> list[dict[str, Any]]:
    stmt = select(IntegrationEvent).where(IntegrationEvent.id > after).order_by(IntegrationEvent.id)
    return [conforming(e.payload) for e in (await session.execute(stmt)).scalars()]


async def last_id(session: AsyncSession) -> int:
    rows = (await session.execute(select(IntegrationEvent.id))).scalars().all()
    return max(rows, default=0)


def test_every_event_type_has_a_valid_schema() -> None:
    assert sorted(p.name.removesuffix(".schema.json") for p in PAYLOADS.glob("*.json")) == sorted(
        ev.EVENT_TYPES
    )
    for event_type in ev.EVENT_TYPES:
        schema = schema_of(event_type)
        assert schema.schema["properties"]["version"] == {
            "const": ev.VERSION,
            "description": schema.schema["properties"]["version"]["description"],
        }


async def test_an_answered_call_rings_is_answered_gets_a_code_and_ends(
    app: FastAPI, session: AsyncSession, conf: Settings
) -> None:
    customer = await make_customer(session, conf, "علی رضایی", ("09121234567",))
    endpoint = await IntegrationService(session).create(
        "https://erp.example.com/hook", list(ev.EVENT_TYPES), "", True
    )
    await session.commit()  # a savepoint: the recorder's own transactions see it
    before = await last_id(session)
    await store(app, conf, "01_direct_answered")
    got = await emitted(session, before)
    # The whole trace is one batch here: its call events first, then what they caused.
    types = [p["type"] for p in got]
    assert types == [
        ev.CALL_RINGING,
        ev.CALL_ANSWERED,
        ev.CALL_ENDED,
        ev.TRACKING_CODE_CREATED,
    ]
    ringing, answered, ended, code = got
    assert ringing["data"]["device"] == "PJSIP/1001"
    assert ringing["data"]["direction"] == "inbound"
    assert ringing["data"]["e164"] == "+989121234567"
    assert ringing["data"]["customer_ids"] == [customer.id]
    assert answered["data"]["answered_by"] == "PJSIP/1001"
    assert code["data"]["automatic"] is True
    assert code["data"]["call_id"] == ended["data"]["call_id"] == ringing["data"]["call_id"]
    assert code["data"]["customer_id"] == customer.id
    log = ended["data"]["log"]
    assert log["outcome"] == "answered"
    assert log["talk_seconds"] > 0
    assert log["recordings"] == [f"/var/spool/asterisk/monitor/{TRACE_FILE}"]
    assert [r["result"] for r in log["rings"]] == ["answered"]
    # One delivery per event for the endpoint that wants them all, in the events' order.
    rows = (
        (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint.id)
                .order_by(WebhookDelivery.id)
            )
        )
        .scalars()
        .all()
    )
    assert [r.event_id for r in rows] == [p["id"] for p in got]
    assert [r.payload for r in rows] == got


async def test_a_missed_call_creates_a_callback_once(
    app: FastAPI, session: AsyncSession, conf: Settings
) -> None:
    before = await last_id(session)
    await store(app, conf, "02_direct_noanswer")
    got = await emitted(session, before)
    assert [p["type"] for p in got] == [ev.CALL_RINGING, ev.CALL_ENDED, ev.CALLBACK_CREATED]
    callback = got[-1]["data"]
    assert callback["attempts"] == 1
    assert callback["call_id"] == got[1]["data"]["call_id"]
    assert got[1]["data"]["log"]["outcome"] == "missed"
    # The same number missed again: an attempt more on the same callback, no new one.
    mark = await last_id(session)
    _, events = replay("02_direct_noanswer", pbx=PBX + "-again")
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    again = await emitted(session, mark)
    assert ev.CALLBACK_CREATED in [p["type"] for p in again]  # another PBX: its own callback
    mark = await last_id(session)
    _, events = replay("02_direct_noanswer", pbx=PBX)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    assert ev.CALLBACK_CREATED not in [p["type"] for p in await emitted(session, mark)]


async def test_tracking_codes_created_and_changed_through_the_api(
    session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    agent = await make_user(session, Role.agent)
    headers = {"Authorization": f"Bearer {await make_token(session, conf, agent)}"}
    before = await last_id(session)
    r = await client.post("/api/tracking-codes", json={"subject": "refund"}, headers=headers)
    assert r.status_code == 201
    code = r.json()["code"]
    r = await client.patch(
        f"/api/tracking-codes/{code}", json={"status": "closed"}, headers=headers
    )
    assert r.status_code == 200
    # Nothing changed: no event.
    r = await client.patch(
        f"/api/tracking-codes/{code}", json={"status": "closed"}, headers=headers
    )
    assert r.status_code == 200
    got = await emitted(session, before)
    assert [(p["type"], p["data"]["change"], p["data"]["status"]) for p in got] == [
        (ev.TRACKING_CODE_CREATED, "created", "open"),
        (ev.TRACKING_CODE_CHANGED, "updated", "closed"),
    ]
    assert got[0]["data"]["code"] == code and got[0]["data"]["owner_user_id"] == agent.id


async def test_a_failed_request_leaves_no_event(
    session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    agent = await make_user(session, Role.agent)
    headers = {"Authorization": f"Bearer {await make_token(session, conf, agent)}"}
    before = await last_id(session)
    # The call does not exist: the request fails after nothing was written.
    r = await client.post("/api/tracking-codes", json={"call_id": 999999}, headers=headers)
    assert r.status_code == 404
    assert await emitted(session, before) == []


async def test_a_recording_is_ready_once(
    app: FastAPI, session: AsyncSession, conf: Settings
) -> None:
    await store(app, conf, "01_direct_answered")
    (recording,) = (await session.execute(select(Recording).where(Recording.pbx == PBX))).scalars()
    before = await last_id(session)
    await check(session, conf)  # not there yet
    assert await emitted(session, before) == []
    tone(conf.recordings_dir / TRACE_FILE, 1.0)
    await check(session, conf)
    await check(session, conf)
    [ready] = await emitted(session, before)
    assert ready["type"] == ev.RECORDING_READY
    data = ready["data"]
    assert data["recording_id"] == recording.id and data["call_id"] == recording.call_id
    assert data["duration_seconds"] == pytest.approx(1.0, abs=0.01)
    assert data["audio_url"] == f"/api/recordings/{recording.id}/audio"


async def test_a_survey_answered_is_emitted_with_what_it_stored(
    app: FastAPI, session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    agent = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    customer = await make_customer(session, conf, "علی رضایی", ("09121234567",))
    endpoint = await IntegrationService(session).create(
        "https://erp.example.com/hook", [ev.SURVEY_ANSWERED], "", True
    )
    await session.commit()
    await store(app, conf, "01_direct_answered")
    (call,) = (await session.execute(select(Call).where(Call.pbx == PBX))).scalars()
    token = "pbx-token-for-the-survey-event"
    pbx = PbxSettings(
        id=PBX, host="127.0.0.1", port=1, username="u", secret=SecretStr("s"),
        token=SecretStr(token),
    )  # fmt: skip
    app.state.settings = conf.model_copy(update={"pbxes": [pbx]})
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/pbx/survey?linkedid={call.linkedid}"
    try:
        before = await last_id(session)
        assert (await client.get(f"{url}&q1=4", headers=auth)).text.startswith("found=1\nstored=1")
        [first] = await emitted(session, before)
        assert first["type"] == ev.SURVEY_ANSWERED
        assert first["data"] == {
            "survey_id": call.id, "call_id": call.id, "customer_id": customer.id,
            "number": "+989121234567", "agent_user_id": agent.id, "queue": call.queue,
            "channel": "ivr", "answers": [{"question": "q1", "answer": 4}],
        }  # fmt: skip
        # The second question later: an event with it alone; a repeat, or keys refused, none.
        after_first = await last_id(session)
        await client.get(f"{url}&q1=4&q2=2", headers=auth)
        [second] = await emitted(session, after_first)
        assert second["data"]["answers"] == [{"question": "q2", "answer": 2}]
        after_second = await last_id(session)
        await client.get(f"{url}&q1=4&q2=2", headers=auth)
        await client.get(f"{url}&q1=9", headers=auth)
        assert await emitted(session, after_second) == []
    finally:
        app.state.settings = conf
    rows = (
        (
            await session.execute(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
        )
        .scalars()
        .all()
    )
    assert sorted(r.event_id for r in rows) == sorted([first["id"], second["id"]])
