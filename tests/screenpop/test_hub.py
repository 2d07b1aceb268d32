"""Screen-pops over a real websocket: Tamas served by uvicorn on a local port, a simulated
PBX replaying real recordings, agents connected with the websockets client."""

from __future__ import annotations

import json

import pytest
import websockets
from sqlalchemy import update

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import AuthToken, PopEvent
from screenpop import endpoints, keeper
from telephony.simulator import AmiSimulator
from tests.screenpop.support import (
    Agent,
    eventually,
    following,
    follows,
    instance_settings,
    replay,
    serving,
    team,
)
from tests.telephony.traces import AMI_DIR


async def test_direct_call_pops_the_ringing_agent(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        reza = await tamas.agent(tokens["1002"])
        assert sara.hello["user"]["devices"] == ["PJSIP/1001"]
        await replay(sim, "01_direct_answered")
        await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
        assert sara.kinds() == [
            ("pop", "ringing", ""),
            ("pop", "answered", ""),
            ("end", "ended", "ended"),
        ]
        pop = sara.messages[0]
        assert pop["number_display"] == "0912 123 4567"
        assert pop["caller_name"] == "Ali Rezaei"
        assert pop["customers"][0]["name"] == "علی رضایی"
        assert pop["customers"][0]["company"] == "آلفا"
        seqs = [m["seq"] for m in sara.messages]
        assert seqs == sorted(seqs) and seqs[0] > sara.hello["seq"]
        assert reza.messages == []  # not his phone


async def test_queue_call_withdraws_the_others_and_abandon_withdraws_all(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        agents = {ext: await tamas.agent(tokens[ext]) for ext in ("1001", "1002", "1003")}
        await replay(sim, "A4_persian_name_queue_answered")
        await agents["1002"].wait_for(lambda m: any(x["type"] == "end" for x in m))
        for ext in ("1001", "1003"):
            await agents[ext].wait_for(lambda m: any(x["type"] == "withdraw" for x in m))
            assert agents[ext].kinds() == [
                ("pop", "ringing", ""),
                ("withdraw", "answered_elsewhere", "answered"),
            ]
            assert agents[ext].messages[-1]["answered_by"] == "رضا کریمی"
        for agent in agents.values():
            agent.messages.clear()

        await replay(sim, "05_queue_abandoned")
        for agent in agents.values():
            await agent.wait_for(lambda m: any(x["type"] == "withdraw" for x in m))
            assert agent.kinds() == [
                ("pop", "ringing", ""),
                ("withdraw", "ended", "caller_hung_up"),
            ]


async def test_the_pop_follows_a_transfer(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        reza = await tamas.agent(tokens["1002"])
        await replay(sim, "07_blind_transfer")
        await reza.wait_for(lambda m: any(x["type"] == "end" for x in m))
        assert sara.kinds()[-1] == ("withdraw", "transferred_away", "transferred")
        assert reza.kinds()[0] == ("pop", "transferred", "transferred")
        assert reza.messages[0]["transferred_by"] == "سارا احمدی"
        assert reza.messages[0]["number"] == "09127778899"


async def test_reconnect_resumes_with_what_is_still_relevant(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with following(instance_settings(settings, db, sim)) as tamas:
        sara = await tamas.agent(tokens["1001"])
        await sara.close()
        # While she is away, 1001 answers call A of this recording (still in progress).
        rows = (AMI_DIR / "11_actions_busy.ami.idx").read_text().splitlines()
        first, last = float(rows[0].split("\t")[2]), float(rows[-1].split("\t")[2])
        replaying = sim.replay(
            AMI_DIR / "11_actions_busy.ami", pace="max", until=(first + last) / 2
        )
        await replaying.wait()

        async def stored() -> bool:
            assert db.sessionmaker is not None
            async with db.sessionmaker() as session:
                table = PopEvent.__table__
                pops = table.select().where(table.c.kind != "agent")
                n = len((await session.execute(pops)).all())
            return n >= 2

        await eventually(stored)
        back = await tamas.agent(tokens["1001"], last_seq=sara.hello["seq"])
        await back.wait_for(lambda m: len(m) >= 1)
        assert [(m["type"], m["state"]) for m in back.messages] == [("pop", "answered")]
        assert back.messages[0]["number"] == "09121234567"
        # Already seen: a client that resumes from there gets nothing again.
        again = await tamas.agent(tokens["1001"], last_seq=back.messages[-1]["seq"])
        replaying.resume()
        await replaying.wait()
        await again.wait_for(lambda m: any(x["type"] == "end" for x in m))
        assert [m["type"] for m in again.messages] == ["end"]


async def test_bad_tokens_are_refused_and_revoked_ones_closed(
    db: Database, sim: AmiSimulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keeper, "PING_INTERVAL", 0.2)
    monkeypatch.setattr(endpoints, "AUTH_TIMEOUT", 0.5)
    tokens = await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, _app):
        url = f"ws://127.0.0.1:{port}/ws/pops"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4401
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4408
        async with websockets.connect(url) as ws:
            await ws.send("not json")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4400

        sara = Agent(port, tokens["1001"])
        await sara.connect()
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(update(AuthToken).values(revoked_at=AuthToken.created_at))

        async def closed() -> bool:
            return sara.closed is not None

        await eventually(closed)
        assert sara.closed is not None and sara.closed[0] == 4401


async def test_two_instances_share_pops_and_take_over(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    conf = instance_settings(settings, db, sim)
    async with following(conf) as a, serving(conf) as (port_b, app_b):
        app_b.state.leadership.retry = 0.2
        assert not app_b.state.leadership.owns("hub-test")  # A holds the PBX
        assert sim.clients == 1
        health = app_b.state.leadership
        assert health.listeners == {}
        # An agent connected to B gets the pops of the calls A follows.
        sara = Agent(port_b, tokens["1001"])
        await sara.connect()
        await replay(sim, "01_direct_answered")
        await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
        await sara.close()
        # A goes away while B keeps running...
        await a.app.state.leadership.stop()

        async def b_took_over() -> bool:
            return await follows(app_b)

        await eventually(b_took_over, within=10)
        sara = Agent(port_b, tokens["1001"])
        await sara.connect()
        await replay(sim, "A1_persian_name_direct_answered")
        await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
        assert sara.messages[0]["caller_name"] == "علی رضایی"
        await sara.close()
