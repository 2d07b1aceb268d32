"""Two Tamas processes on one database and one PBX: the one following the PBX is killed
(SIGKILL, mid-calls); the other takes it over within seconds and the calls in progress are
logged once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from app.db import Database
from telephony.simulator import AmiSimulator
from tests.conftest import TEST_SECRET
from tests.faults.support import SECRET, USER, Heard, calls_of, eventually, figure

PBX = "two-instances"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def instance(
    url: str, sim: AmiSimulator, data_dir: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``uvicorn`` serving Tamas in a process of its own; (process, port)."""
    port = _free_port()
    env = {
        **os.environ,
        "TAMAS_DATABASE_URL": url,
        "TAMAS_ENVIRONMENT": "test",
        "TAMAS_SECRET_KEY": TEST_SECRET,
        "TAMAS_DATA_DIR": str(data_dir),
        "TAMAS_LOG_LEVEL": "warning",
        "TAMAS_AMI_RECONNECT_FIRST_SECONDS": "0.1",
        "TAMAS_AMI_RECONNECT_MOST_SECONDS": "1",
        "TAMAS_PBXES": json.dumps(
            [{"id": PBX, "host": "127.0.0.1", "port": sim.port, "username": USER, "secret": SECRET}]
        ),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc, port
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def _pbx_state(port: int) -> str:
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            body: dict[str, Any] = (await client.get("/health")).json()
    except httpx.HTTPError:
        return "down"
    state: str = body["pbxes"][PBX]["status"]
    return state


async def test_killing_the_leader_hands_the_pbx_over(
    scratch_url: str, scratch_db: Database, sim: AmiSimulator, tmp_path: Path
) -> None:
    async with (
        instance(scratch_url, sim, tmp_path / "a") as (a, port_a),
        instance(scratch_url, sim, tmp_path / "b") as (b, port_b),
    ):

        async def one_leads() -> bool:
            states = {await _pbx_state(port_a), await _pbx_state(port_b)}
            return states == {"connected", "standby"}

        await eventually(one_leads)
        leader, follower = (a, port_b) if await _pbx_state(port_a) == "connected" else (b, port_a)
        assert sim.clients == 1
        # Calls of 10-40 s, two a second.
        traffic = sim.generate(rate=2, speed=2, count=60, wait_for_clients=False)
        await asyncio.sleep(6)
        live_before = {c.linkedid for c in await calls_of(scratch_db, PBX) if c.ended_at is None}
        assert live_before
        leader.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await leader.wait()

        async def took_over() -> bool:
            return await _pbx_state(follower) == "connected"

        await eventually(took_over, within=60)
        takeover = time.monotonic() - killed
        after = Heard(sim)  # what the PBX sends from the takeover on
        await traffic.wait()

        async def settled() -> bool:
            # Every call ended: those heard after the takeover as the PBX said, those that
            # ended in the gap closed by the new leader's first resync.
            calls = await calls_of(scratch_db, PBX)
            return after.linkedids <= {c.linkedid for c in calls} and all(c.ended_at for c in calls)

        await eventually(settled)
        calls = await calls_of(scratch_db, PBX)
        assert len({c.linkedid for c in calls}) == len(calls)
        assert live_before & after.linkedids, "calls in progress went on under the new leader"
        unseen = [c for c in calls if c.end_reason.startswith("end not observed")]
        assert {c.linkedid for c in unseen} <= live_before - after.linkedids
        assert sim.clients == 1
        figure("two instances: takeover after SIGKILL of the leader (s)", round(takeover, 2))
        figure(
            "two instances: calls up at the kill / logged in all / ended in the gap (closed "
            "at the takeover's resync)",
            f"{len(live_before)} / {len(calls)} / {len(unseen)}",
        )
