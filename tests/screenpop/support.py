"""Serving Tamas for tests that talk to it over the network: uvicorn on a free local port
against the scratch database, following a simulated PBX; agents and their tokens; websocket
clients as the panel is one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
import websockets
from pydantic import SecretStr

from app.config import PbxSettings, Settings
from app.db import Database, unit_of_work
from app.main import create_app
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.telephony.traces import AMI_DIR

USER, SECRET = "tamas", "hub-secret"
AGENTS = (
    ("1001", "sara", "سارا احمدی"),
    ("1002", "reza", "رضا کریمی"),
    ("1003", "maryam", "مریم حسینی"),
)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def serving(
    settings: Settings,
    on_startup: Sequence[Callable[[Database], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> AsyncIterator[tuple[int, Any]]:
    app = create_app(settings, on_startup=on_startup, on_shutdown=on_shutdown)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server))
        port = server.servers[0].sockets[0].getsockname()[1]
        yield port, app
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


class Agent:
    """A websocket client as the panel is one."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.messages: list[dict[str, Any]] = []  # pops, withdrawals, ends
        self.statuses: list[dict[str, Any]] = []  # ``agent`` messages: availability
        self.ws: Any = None
        self.hello: dict[str, Any] = {}  # what the last connect() was told first
        self.closed: tuple[int, str] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, last_seq: int | None = None) -> dict[str, Any]:
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws/pops")
        await self.ws.send(json.dumps({"type": "auth", "token": self.token, "last_seq": last_seq}))
        hello: dict[str, Any] = json.loads(await self.ws.recv())
        self.hello = hello
        self._reader = asyncio.create_task(self._read())
        return hello

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif message["type"] == "agent":
                    self.statuses.append(message["status"])
                else:
                    self.messages.append(message)
        except websockets.ConnectionClosed:
            pass
        self.closed = (self.ws.close_code or 0, self.ws.close_reason or "")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader

    def kinds(self) -> list[tuple[str, str, str]]:
        return [(m["type"], m["state"], m["reason"]) for m in self.messages]

    async def wait_for_status(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        """Until the newest ``agent`` status message satisfies ``predicate``."""

        async def check() -> bool:
            return bool(self.statuses) and predicate(self.statuses[-1])

        await eventually(check)

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        async def check() -> bool:
            return predicate(self.messages)

        await eventually(check)


class Served:
    """Tamas served on ``port`` (its ``app``), with the agents connected through it."""

    def __init__(self, port: int, app: Any) -> None:
        self.port = port
        self.app = app
        self.agents: list[Agent] = []

    async def agent(self, token: str, last_seq: int | None = None) -> Agent:
        """An agent connected with this token (its first message in ``hello``)."""
        agent = Agent(self.port, token)
        self.agents.append(agent)
        await agent.connect(last_seq)
        return agent


@asynccontextmanager
async def following(settings: Settings) -> AsyncIterator[Served]:
    """Tamas served (``serving``) and already following the simulated PBX; the agents
    connected through it are closed when it is left."""
    async with serving(settings) as (port, app):
        await eventually(lambda: follows(app))
        served = Served(port, app)
        try:
            yield served
        finally:
            for agent in served.agents:
                await agent.close()


def instance_settings(settings: Settings, db: Database, sim: AmiSimulator) -> Settings:
    assert db.settings.database_url is not None
    return settings.model_copy(
        update={
            "database_url": db.settings.database_url,
            "pbxes": [
                PbxSettings(
                    id="hub-test",
                    host="127.0.0.1",
                    port=sim.port,
                    username=USER,
                    secret=SecretStr(SECRET),
                )
            ],
        }
    )


async def team(db: Database, settings: Settings) -> dict[str, str]:
    """Agents on 1001-1003 (password ``PASSWORD``) and the customer who calls in the
    traces; their tokens by extension."""
    assert db.sessionmaker is not None
    tokens = {}
    async with unit_of_work(db.sessionmaker) as session:
        for ext, username, name in AGENTS:
            user = await make_user(session, Role.agent, username=username, devices=[f"PJSIP/{ext}"])
            user.full_name = name
            tokens[ext] = await make_token(session, settings, user)
        await make_customer(session, settings, "علی رضایی", ("09121234567",), company="آلفا")
    return tokens


async def replay(sim: AmiSimulator, name: str, **kwargs: Any) -> None:
    await sim.replay(AMI_DIR / f"{name}.ami", pace="max", **kwargs).wait()


async def follows(app: Any) -> bool:
    leadership = app.state.leadership
    listener = leadership.listeners.get("hub-test")
    return listener is not None and listener.health.resyncs >= 1


def before_first(name: str, *markers: str) -> float:
    """A recorded time (for ``replay(until=...)``) just before the first of these lines is
    received: the call stands still there (ringing, say) until the replay is resumed."""
    data = (AMI_DIR / f"{name}.ami").read_bytes()
    found = [i for i in (data.find(m.encode()) for m in markers) if i >= 0]
    assert found, f"none of {markers} in {name}"
    offset = min(found)
    chunks = []
    for row in (AMI_DIR / f"{name}.ami.idx").read_text().splitlines():
        start, length, when = row.split("\t")
        chunks.append((int(start), int(length), float(when)))
    arrives = next(when for start, length, when in chunks if start <= offset < start + length)
    return max(when for _, _, when in chunks if when < arrives)
