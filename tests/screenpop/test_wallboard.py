"""The live wallboard over a real websocket: a queue call waiting, then answered, then over,
as the simulated PBX plays a recorded call; agents' states; today's counters; who may look."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)
from tests.telephony.traces import AMI_DIR


class Board:
    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.pictures: list[dict[str, Any]] = []
        self.ws: Any = None

    async def open(self) -> None:
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws/wallboard")
        await self.ws.send(json.dumps({"type": "auth", "token": self.token}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "board":
                    self.pictures.append(message)
        except websockets.ConnectionClosed:
            pass

    async def shows(self, check: Any) -> dict[str, Any]:
        async def ok() -> bool:
            return bool(self.pictures) and check(self.pictures[-1])

        await eventually(ok, within=20)
        return self.pictures[-1]


async def test_the_wallboard_follows_a_queue_call(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        token = await make_token(session, settings, boss)
    async with serving(instance_settings(settings, db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        board = Board(port, token)
        await board.open()
        # The agents are "no_queue" until the PBX's QueueStatus (asked after connecting)
        # is stored: then available.
        first = await board.shows(
            lambda p: len(p["agents"]) == 3 and {a["state"] for a in p["agents"]} == {"available"}
        )
        assert first["calls"] == [] and first["queues"] == []
        # The caller waits in the queue while the phones ring.
        until = before_first("04_queue_answered", "Event: DialEnd")
        replaying = sim.replay(AMI_DIR / "04_queue_answered.ami", pace="max", until=until)
        await replaying.wait()
        waiting = await board.shows(lambda p: bool(p["queues"]))
        (queue,) = waiting["queues"]
        assert queue["queue"] == "support" and len(queue["waiting"]) == 1
        assert waiting["calls"][0]["state"] == "waiting"
        assert waiting["calls"][0]["number"] == "09121234567"
        assert waiting["calls"][0]["number_display"] == "0912 123 4567"
        assert queue["waiting"][0]["number_display"] == "0912 123 4567"
        # Each agent's time in state starts from the PBX's last word on them.
        assert all(a["since"] for a in waiting["agents"])
        replaying.resume()
        await replaying.wait()
        done = await board.shows(lambda p: not p["calls"] and p["today"])
        (support,) = done["today"]
        assert support["key"] == "support" and support["answered"] == 1
        assert done["today_total"]["offered"] == 1 and done["today_total"]["answered"] == 1
        handled = {a["name"]: a["handled_today"] for a in done["agents"]}
        assert sum(handled.values()) == 1
        await board.ws.close()
        await board.reader


async def test_only_supervisors_see_the_wallboard(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    async with serving(instance_settings(settings, db, sim)) as (port, _app):
        for token, code in ((tokens["1001"], 4403), ("not-a-token", 4401)):
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/wallboard") as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == code
