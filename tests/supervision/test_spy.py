"""Listen, whisper and barge end to end: Tamas served by uvicorn, the simulated PBX on a real
socket answering the Originate into [tamas-spy] as Asterisk does (the supervisor's channel
in ChanSpy on the agent's channel, hung up when the agent's call ends)."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import AuditEvent, Call, CallLeg, Role, SpySession, User
from telephony.simulator import AmiSimulator
from telephony.simulator.spy import SPY_OPTIONS
from tests.asterisk_dev.support import CONF
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import (
    before_first,
    eventually,
    following,
    instance_settings,
    team,
)
from tests.telephony.traces import AMI_DIR

TRACE = "04_queue_answered"  # 1002 answers a queue call, then hangs up


def api(port: int, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )


async def supervisor(db: Database, settings: Settings) -> tuple[dict[str, str], str, int]:
    """The team, with Maryam (1003) made a supervisor: the tokens, hers, and Reza's id."""
    tokens = await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        maryam = (await session.execute(select(User).where(User.username == "maryam"))).scalar_one()
        maryam.role = Role.supervisor.value
        reza = (await session.execute(select(User).where(User.username == "reza"))).scalar_one()
        return tokens, await make_token(session, settings, maryam), reza.id


async def live_leg(db: Database, user_id: int) -> CallLeg | None:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        stmt = select(CallLeg).where(
            CallLeg.user_id == user_id, CallLeg.answered_at.is_not(None), CallLeg.ended_at.is_(None)
        )
        return (await session.execute(stmt)).scalars().first()


async def spy_row(db: Database, spy_id: int) -> SpySession:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        found = await session.get(SpySession, spy_id)
        assert found is not None
        return found


def test_the_simulator_plays_the_shipped_dialplan() -> None:
    """Each [tamas-spy] extension runs ChanSpy with the options the simulator plays."""
    text = CONF.read_text()
    context = text[text.index("[tamas-spy]") :]
    found = dict(
        re.findall(
            r"exten => (\w+),1,.*\n.*\n same => n,ChanSpy\(\$\{TAMAS_SPY_CHANNEL\},(\w+)\)", context
        )
    )
    assert found == SPY_OPTIONS
    # q: the agent is never told; b: only a call in progress; E/S: end with it.
    assert all({"q", "b", "E", "S"} <= set(options) for options in found.values())
    assert "w" in found["whisper"] and "B" in found["barge"]


async def test_a_supervisor_listens_until_the_call_ends(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    _tokens, boss, reza = await supervisor(db, settings)
    conf = instance_settings(settings, db, sim)
    async with following(conf) as tamas, api(tamas.port, boss) as client:
        # Nothing up yet: the call "already ended" case.
        r = await client.post("/api/supervision/spy", json={"agent_id": reza, "mode": "listen"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_live_call"

        replaying = sim.replay(
            AMI_DIR / f"{TRACE}.ami",
            pace="max",
            until=before_first(TRACE, "Event: HangupRequest"),
        )
        await replaying.wait()

        async def answered() -> bool:
            return await live_leg(db, reza) is not None

        await eventually(answered)
        leg = await live_leg(db, reza)
        assert leg is not None and leg.channel.startswith("PJSIP/1002-")

        r = await client.post("/api/supervision/spy", json={"agent_id": reza, "mode": "listen"})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["state"] == "requested" and body["agent_channel"] == leg.channel
        # The Originate as the PBX got it: Maryam's phone, into the spy context.
        request = sim.originate_requests[-1]
        assert (request.channel, request.context, request.exten, request.action_id) == (
            "PJSIP/1003",
            "tamas-spy",
            "listen",
            body["ref"],
        )
        assert request.variables == (("TAMAS_SPY_CHANNEL", leg.channel),)
        assert request.callerid_num == "1002" and "رضا" in request.callerid_name

        async def active() -> bool:
            return (await spy_row(db, body["id"])).state == "active"

        await eventually(active)
        # The supervisor's channel sits in ChanSpy on exactly that channel, quietly.
        (spying,) = sim.spies.values()
        assert spying.spyee == leg.channel
        channel = next(c for c in sim.state.channels.values() if c.block["Uniqueid"] in sim.spies)
        assert (channel.application, channel.application_data) == (
            "ChanSpy",
            f"{leg.channel},qbES",
        )

        # The agent hangs up: ChanSpy ends, the supervisor's channel with it.
        await sim.replay(AMI_DIR / f"{TRACE}.ami", pace="max").wait()

        async def ended() -> bool:
            return (await spy_row(db, body["id"])).state == "ended"

        await eventually(ended)
        assert sim.spies == {}
        r = await client.get(f"/api/supervision/spy/{body['id']}")
        done = r.json()
        assert done["ended_at"] >= done["answered_at"] and done["seconds"] >= 0
        r = await client.get("/api/supervision/spy", params={"agent": reza})
        assert [s["id"] for s in r.json()] == [body["id"]]

        # Too late now.
        r = await client.post("/api/supervision/spy", json={"agent_id": reza, "mode": "barge"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_live_call"
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        audited = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "supervision_spy")
                )
            )
            .scalars()
            .all()
        )
        calls = (await session.execute(select(Call))).scalars().all()
    assert [(a.target, a.details["mode"]) for a in audited] == [(f"user:{reza}", "listen")]
    # Maryam's phone listening in was followed, not logged as a call of hers.
    assert [(c.direction, c.answered_by_user_id) for c in calls] == [("inbound", reza)]


async def test_an_offline_phone_and_an_unreachable_pbx_are_said(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens, boss, reza = await supervisor(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        replaying = sim.replay(
            AMI_DIR / f"{TRACE}.ami", pace="max", until=before_first(TRACE, "Event: HangupRequest")
        )
        await replaying.wait()

        async def answered() -> bool:
            return await live_leg(db, reza) is not None

        await eventually(answered)
        async with api(tamas.port, tokens["1001"]) as agent:
            r = await agent.post("/api/supervision/spy", json={"agent_id": reza, "mode": "listen"})
            assert r.status_code == 403  # agents may not

        sim.originate_outcome = lambda request: "device_offline"
        async with api(tamas.port, boss) as client:
            r = await client.post(
                "/api/supervision/spy", json={"agent_id": reza, "mode": "whisper"}
            )
            assert r.status_code == 202, r.text
            spy_id = r.json()["id"]

            async def failed() -> bool:
                return (await spy_row(db, spy_id)).state == "failed"

            await eventually(failed)
            r = await client.get(f"/api/supervision/spy/{spy_id}")
            assert r.json()["failure"] == "device_offline"
            assert r.json()["failure_text"] == "your phone is offline or unreachable"

            # Not one of her phones.
            r = await client.post(
                "/api/supervision/spy",
                json={"agent_id": reza, "mode": "listen", "device": "PJSIP/1001"},
            )
            assert r.status_code == 422

            # The PBX down: the Originate cannot be sent.
            outage = asyncio.create_task(sim.outage(3.0))

            async def cut() -> bool:
                return sim.clients == 0

            await eventually(cut)
            r = await client.post("/api/supervision/spy", json={"agent_id": reza, "mode": "barge"})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "pbx_unavailable"
            await outage


async def test_a_supervisor_ends_a_listen_from_tamas(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    """Stop: Tamas hangs up the supervisor's own channel (AMI Hangup over the real socket);
    ChanSpy ends, the agent's call goes on, the session gets its end and length."""
    tokens, boss, reza = await supervisor(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        other = await make_user(session, Role.supervisor, username="other-boss")
        other_token = await make_token(session, settings, other)
    async with (
        following(instance_settings(settings, db, sim)) as tamas,
        api(tamas.port, boss) as client,
    ):
        await sim.replay(
            AMI_DIR / f"{TRACE}.ami", pace="max", until=before_first(TRACE, "Event: HangupRequest")
        ).wait()

        async def answered() -> bool:
            return await live_leg(db, reza) is not None

        await eventually(answered)
        r = await client.post("/api/supervision/spy", json={"agent_id": reza, "mode": "whisper"})
        assert r.status_code == 202, r.text
        spy_id = r.json()["id"]

        async def active() -> bool:
            return (await spy_row(db, spy_id)).state == "active"

        await eventually(active)
        row = await spy_row(db, spy_id)
        (uniqueid,) = sim.spies
        assert row.uniqueid == uniqueid and row.channel.startswith("PJSIP/1003-")

        async with api(tamas.port, tokens["1001"]) as agent:
            r = await agent.post(f"/api/supervision/spy/{spy_id}/stop")
            assert r.status_code == 403  # agents may not
        async with api(tamas.port, other_token) as someone:
            r = await someone.post(f"/api/supervision/spy/{spy_id}/stop")
            assert r.status_code == 403  # nor another supervisor
        requests = len(sim.originate_requests)

        r = await client.post(f"/api/supervision/spy/{spy_id}/stop")
        assert r.status_code == 202, r.text

        async def ended() -> bool:
            return (await spy_row(db, spy_id)).state == "ended"

        await eventually(ended)
        assert sim.spies == {} and row.uniqueid not in {
            c.block["Uniqueid"] for c in sim.state.channels.values()
        }
        # The agent is still on the call.
        leg = await live_leg(db, reza)
        assert leg is not None and any(
            c.block["Channel"] == leg.channel for c in sim.state.channels.values()
        )
        done = (await client.get(f"/api/supervision/spy/{spy_id}")).json()
        assert done["stopped_by_user_id"] is not None
        assert done["ended_at"] >= done["answered_at"] and done["seconds"] >= 0
        assert len(sim.originate_requests) == requests

        r = await client.post(f"/api/supervision/spy/{spy_id}/stop")
        assert r.status_code == 409 and r.json()["error"]["code"] == "spy_ended"
    async with db.sessionmaker() as session:
        stops = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "supervision_spy_stop")
                )
            )
            .scalars()
            .all()
        )
    assert [(a.target, a.details["session_id"], a.details["mode"]) for a in stops] == [
        (f"user:{reza}", spy_id, "whisper")
    ]
