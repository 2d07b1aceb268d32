"""Graceful shutdown: ``tamas serve`` in a process of its own follows a simulated PBX that
generates calls; SIGTERM in the middle of the burst. Every call whose events the PBX had
written before the signal is in the database as far as it got, the panels are closed with
1001 (going away: reconnect to another instance), the PBX's lock is released and the
process exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import websockets

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.leader import LOCK_CLASS, lock_key
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import SECRET, USER, Agent, eventually, team
from tests.test_ops import free_port, start_tamas, stop_tamas, tamas_env, wait_ready

PBX = "shutdown-test"
_LINKEDID = re.compile(rb"^Linkedid: (\S+)\r$", re.MULTILINE)
_HANGUP = re.compile(rb"^Event: Hangup\r\n(?:[^\r\n]+\r\n)*?Linkedid: (\S+)\r$", re.MULTILINE)


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET, seed=11) as simulator:
        yield simulator


async def test_sigterm_mid_burst_stores_what_was_received_and_sends_panels_away(
    scratch_db: Database, sim: AmiSimulator, settings: Settings, tmp_path: Path
) -> None:
    tokens = await team(scratch_db, settings)
    stream = bytearray()
    sim.add_tap(stream.extend)
    port = free_port()
    pbxes = [{"id": PBX, "host": "127.0.0.1", "port": sim.port, "username": USER, "secret": SECRET}]
    env = tamas_env(scratch_db, TAMAS_PBXES=json.dumps(pbxes), TAMAS_LOG_LEVEL="info")
    log = tmp_path / "tamas.log"
    proc = await start_tamas(port, env, log)
    try:
        await wait_ready(port, proc)
        await sim.wait_for_client()
        agents = [Agent(port, token) for token in tokens.values()]
        for agent in agents:
            await agent.connect()
        assert scratch_db.sessionmaker is not None
        async with unit_of_work(scratch_db.sessionmaker) as session:
            boss = await make_user(session, Role.supervisor)
            boss_token = await make_token(session, settings, boss)
        # Signed in with the token once it is committed (the server reads it at once).
        screen = await websockets.connect(f"ws://127.0.0.1:{port}/ws/wallboard")
        await screen.send(json.dumps({"type": "auth", "token": boss_token}))
        assert json.loads(await screen.recv())["type"] == "board"
        board_closed = asyncio.create_task(_close_code(screen))
        traffic = sim.generate(rate=25, speed=4.0)

        async def busy() -> bool:
            # Calls whose events the PBX has written (a call started may not have sent any).
            return len(set(_LINKEDID.findall(bytes(stream)))) >= 30

        await eventually(busy, within=60)
        sent = bytes(stream)  # what the PBX had written when the signal went
        signalled = time.monotonic()
        status = await stop_tamas(proc)
        took = time.monotonic() - signalled
        await traffic.stop()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = log.read_text()
    assert status == 0, output[-3000:]
    print(f"\nSIGTERM to exit: {took:.2f} s")  # the figure the README quotes

    for agent in agents:
        await eventually(lambda a=agent: _closed(a))  # type: ignore[misc]
        assert agent.closed is not None and agent.closed[0] == 1001, agent.closed
    assert await asyncio.wait_for(board_closed, 10) == 1001  # the wallboard screen too

    linkedids = {m.decode() for m in _LINKEDID.findall(sent)}
    hung_up = {m.decode() for m in _HANGUP.findall(sent)}
    assert len(linkedids) >= 30
    assert scratch_db.settings.database_url is not None
    conn = await asyncpg.connect(
        scratch_db.settings.database_url.get_secret_value().replace("+asyncpg", "")
    )
    try:
        rows = await conn.fetch("SELECT linkedid, ended_at FROM calls WHERE pbx = $1", PBX)
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = $1 AND objid::bigint = $2",
            LOCK_CLASS,
            lock_key(PBX),
        )
    finally:
        await conn.close()
    stored = {r["linkedid"]: r["ended_at"] for r in rows}
    missing = linkedids - set(stored)
    assert not missing, f"{len(missing)} calls heard before SIGTERM not stored: {missing}"
    # A call whose last channel hung up before the signal is stored as ended... at least
    # every call all of whose channels' hangups were written (the call's end needs them all).
    ended = {lid for lid, at in stored.items() if at is not None}
    assert ended, "no call ended before the signal"
    print(
        f"calls heard before SIGTERM: {len(linkedids)}, stored: {len(linkedids & set(stored))}, "
        f"ended: {len(ended & hung_up)} of {len(hung_up)} with a hangup sent"
    )
    assert held == 0  # the PBX's lock went with the process
    assert "every event received was stored" in output


async def _close_code(ws: Any) -> int:
    """Read a wallboard socket until it closes; its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass
    return int(ws.close_code or 0)


async def _closed(agent: Agent) -> bool:
    return agent.closed is not None
