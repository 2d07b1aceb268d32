"""Click-to-call and agent availability end to end: Tamas served by uvicorn, a simulated PBX
on a real socket answering the AMI actions as Asterisk does, agents on real websockets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Origination, QueueMember
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import (
    eventually,
    following,
    instance_settings,
    replay,
    serving,
    team,
)


def api(port: int, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )


async def origination(db: Database, origination_id: int) -> Origination:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        found = await session.get(Origination, origination_id)
        assert found is not None
        return found


def originated(messages: list[dict[str, Any]], ref: str) -> list[tuple[str, str, str]]:
    return [(m["type"], m["state"], m["reason"]) for m in messages if m.get("origination") == ref]


async def test_click_to_call_rings_the_agent_then_the_customer(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        async with api(tamas.port, tokens["1001"]) as client:
            r = await client.post("/api/originations", json={"number": "۰۹۱۲ ۱۲۳ ۴۵۶۷"})
            assert r.status_code == 202, r.text
            body = r.json()
            assert body["state"] == "requested" and body["dialled"] == "09121234567"
            ref = body["ref"]
            # The Originate as the PBX got it.
            (request,) = sim.originate_requests
            assert (request.channel, request.context, request.exten, request.action_id) == (
                "PJSIP/1001",
                "from-internal",
                "09121234567",
                ref,
            )
            sara_id = sara.hello["user"]["id"]
            assert request.variables == (
                ("__TAMAS_ORIGINATION", ref),
                ("__TAMAS_NUMBER", "09121234567"),
                ("__TAMAS_USER", str(sara_id)),
            )
            await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
            assert originated(sara.messages, ref) == [
                ("pop", "agent_ringing", ""),  # "your phone is ringing"
                ("pop", "dialling", ""),  # "calling the customer"
                ("pop", "connected", ""),
                ("end", "ended", "ended"),
            ]
            pop = sara.messages[0]
            assert pop["number_display"] == "0912 123 4567"
            # The pop's party is the customer being dialled, never the agent herself (nor,
            # once dialled, the company's outbound number the dialplan gives her channel).
            assert {m.get("caller_name") for m in sara.messages if m.get("origination")} <= {""}
            assert pop["customers"][0]["name"] == "علی رضایی"
            done = (await client.get(f"/api/originations/{body['id']}")).json()
            assert done["state"] == "ended" and done["failure"] == ""
            assert done["call_id"] == pop["call_id"]
            # Another agent cannot read it.
        async with api(tamas.port, tokens["1002"]) as client:
            assert (await client.get(f"/api/originations/{body['id']}")).status_code == 404
            # Nor dial from Sara's phone.
            r = await client.post(
                "/api/originations", json={"number": "09121234567", "device": "PJSIP/1001"}
            )
            assert r.status_code == 403


@pytest.mark.parametrize(
    ("outcome", "failure"),
    [
        ("device_offline", "device_offline"),
        ("agent_no_answer", "agent_no_answer"),
        ("customer_busy", "customer_busy"),
        ("customer_no_answer", "customer_no_answer"),
        ("congestion", "congestion"),
        ("invalid_number", "invalid_number"),
    ],
)
async def test_each_failure_reaches_the_panel_with_its_reason(
    db: Database, sim: AmiSimulator, settings: Settings, outcome: str, failure: str
) -> None:
    tokens = await team(db, settings)
    sim.originate_outcome = lambda _request: outcome
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        async with api(tamas.port, tokens["1001"]) as client:
            r = await client.post("/api/originations", json={"number": "09121234567"})
            assert r.status_code == 202, r.text
            ref, oid = r.json()["ref"], r.json()["id"]
        await sara.wait_for(
            lambda m: any(x.get("origination") == ref and x["type"] == "withdraw" for x in m)
        )
        last = [m for m in sara.messages if m.get("origination") == ref][-1]
        assert (last["type"], last["reason"]) == ("withdraw", failure)
        stored = await origination(db, oid)

        async def final() -> bool:
            return (await origination(db, oid)).state == "failed"

        await eventually(final)
        stored = await origination(db, oid)
        assert stored.failure == failure


async def test_pause_and_unpause_round_trip_and_a_pause_from_the_phone(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        assert sara.hello["agent"]["state"] == "available"
        assert [q["queue"] for q in sara.hello["agent"]["queues"]] == ["support"]
        async with api(tamas.port, tokens["1001"]) as client:
            r = await client.post("/api/agent/pause", json={"reason": "lunch"})
            assert r.status_code == 202, r.text
            assert r.json()["actions"] == 1
            await sara.wait_for_status(lambda s: s["state"] == "paused")
            assert sara.statuses[-1]["reason"] == "lunch"
            status = (await client.get("/api/agent/status")).json()
            assert status["paused"] and status["reason"] == "lunch"
            r = await client.post("/api/agent/pause", json={"reason": "napping"})
            assert r.status_code == 422  # not a configured reason
            assert (await client.post("/api/agent/unpause")).status_code == 202
            await sara.wait_for_status(lambda s: s["state"] == "available")
        # Paused from the phone (a feature code): the panel follows what the PBX says.
        sim.pause_member("PJSIP/1001", True, reason="training")
        await sara.wait_for_status(lambda s: s["reason"] == "training" and s["paused"])
        # Reza's panel heard none of Sara's changes.
        assert db.sessionmaker is not None
        async with db.sessionmaker() as session:
            row = await session.get(QueueMember, ("hub-test", "support", "PJSIP/1001"))
            assert row is not None and row.paused and row.paused_reason == "training"


async def test_logging_in_and_out_of_a_queue(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        nima = await make_user(session, username="nima", devices=["PJSIP/1004"])
        token = await make_token(session, settings, nima)
    conf = instance_settings(settings, db, sim)
    conf = conf.model_copy(
        update={"pbxes": [conf.pbxes[0].model_copy(update={"login_queues": ["support"]})]}
    )
    async with following(conf) as tamas:
        agent = await tamas.agent(token)
        assert agent.hello["agent"]["state"] == "no_queue"
        assert agent.hello["agent"]["login_queues"] == [
            {"pbx": "hub-test", "queue": "support", "logged_in": False, "can_log_out": False}
        ]
        async with api(tamas.port, token) as client:
            assert (await client.post("/api/agent/queues/support/login")).status_code == 202
            await agent.wait_for_status(lambda s: bool(s["queues"]))
            # The simulated PBX has no phone 1004: the member is there, its device unavailable.
            assert agent.statuses[-1]["state"] == "offline"
            assert agent.statuses[-1]["login_queues"][0]["logged_in"] is True
            assert agent.statuses[-1]["login_queues"][0]["can_log_out"] is True
            assert agent.statuses[-1]["queues"][0]["membership"] == "dynamic"
            # Twice: the PBX says why not.
            r = await client.post("/api/agent/queues/support/login")
            assert r.status_code == 502 and "Already there" in r.json()["error"]["message"]
            assert (await client.post("/api/agent/queues/support/logout")).status_code == 202
            await agent.wait_for_status(lambda s: s["state"] == "no_queue")
            r = await client.post("/api/agent/queues/sales/login")
            assert r.status_code == 422  # not a queue agents log in to
        # Sara is a fixed member (queues.conf): she is told so, the PBX is not bothered.
        async with api(tamas.port, tokens["1001"]) as client:
            status = (await client.get("/api/agent/status")).json()
            assert status["login_queues"][0]["can_log_out"] is False
            r = await client.post("/api/agent/queues/support/logout")
            assert r.status_code == 422 and r.json()["error"]["code"] == "static_member"


async def test_after_call_work_pauses_then_frees_the_agent(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    conf = instance_settings(settings, db, sim).model_copy(update={"wrapup_seconds": 2})
    async with following(conf) as tamas:
        sara = await tamas.agent(tokens["1001"])
        await replay(sim, "01_direct_answered")  # Sara answers a direct call
        await sara.wait_for_status(lambda s: s["state"] == "after_call_work")
        assert sara.statuses[-1]["reason"] == "after-call work"
        assert sara.statuses[-1]["wrapup_until"] is not None
        await sara.wait_for_status(lambda s: s["state"] == "available")
        assert db.sessionmaker is not None
        async with db.sessionmaker() as session:
            rows = (await session.execute(select(QueueMember))).scalars().all()
            assert all(r.wrapup_until is None for r in rows)


async def test_a_pbx_that_cannot_be_reached_is_a_clear_error_at_once(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    conf = instance_settings(settings, db, sim)
    wrong = conf.pbxes[0].model_copy(update={"secret": SecretStr("not-the-secret")})
    async with serving(conf.model_copy(update={"pbxes": [wrong]})) as (port, _app):
        client = api(port, tokens["1001"])
        r = await client.post("/api/originations", json={"number": "09121234567"})
        assert r.status_code == 503, r.text
        assert "refused Tamas's AMI login" in r.json()["error"]["message"]
        assert "not-the-secret" not in r.text
        r = await client.post("/api/agent/unpause")
        assert r.status_code == 422  # no membership known from a PBX never reached
        await client.aclose()
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        (stored,) = (await session.execute(select(Origination))).scalars().all()
        assert (stored.state, stored.failure) == ("failed", "pbx_unavailable")
    assert sim.originate_requests == []
