"""Operations: /healthz, /readyz, /health, /metrics and the logs, on the real thing (the
embedded PostgreSQL, a simulated PBX through a real socket, uvicorn on a local port)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.config import PbxSettings, Settings
from app.db import Database
from telephony.simulator import AmiSimulator
from tests.conftest import TEST_SECRET
from tests.screenpop.support import (
    SECRET,
    USER,
    Agent,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET, seed=7) as simulator:
        yield simulator


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Metric samples by name, parsed with prometheus_client's own parser."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        v for lab, v in found.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    )


async def test_healthz_readyz_and_health_when_all_is_well(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    health = (await client.get("/health")).json()
    assert health == {"status": "ok", "database": "ok", "pbxes": {}}


async def test_readyz_says_503_when_the_database_is_down(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    # A database server that refuses connections: nothing listens on this port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Database(
        settings.model_copy(
            update={"database_url": SecretStr(f"postgresql://tamas:x@127.0.0.1:{port}/tamas")}
        )
    )
    await down.open(migrate=False)
    real = app.state.database
    app.state.database = down
    try:
        ready = await client.get("/readyz")
        health = (await client.get("/health")).json()
        alive = await client.get("/healthz")
    finally:
        app.state.database = real
        await down.close()
    assert ready.status_code == 503
    assert ready.json()["reasons"][0].startswith("database unavailable")
    assert health["status"] == "degraded" and health["database"].startswith("unavailable")
    assert alive.status_code == 200  # liveness does not depend on the database
    assert (await client.get("/readyz")).status_code == 200


async def test_readyz_follows_the_pbx_connection(
    scratch_db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    async with serving(instance_settings(settings, scratch_db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/health")).json()["pbxes"]["hub-test"]["status"] == "connected"
            await sim.stop()  # the PBX goes away

            async def not_ready() -> bool:
                return (await http.get("/readyz")).status_code == 503

            await eventually(not_ready)
            reasons = (await http.get("/readyz")).json()["reasons"]
            assert any(r.startswith("PBX hub-test:") for r in reasons), reasons
            health = (await http.get("/health")).json()
            assert health["status"] == "degraded"
            assert health["pbxes"]["hub-test"]["status"] in ("retrying", "failed", "connecting")
            assert (await http.get("/healthz")).status_code == 200


async def test_a_pbx_nobody_follows_is_not_ready(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    # This app was started with no PBX; configured one now, no instance holds its lock.
    real = app.state.settings
    pbx = PbxSettings(id="nobody", host="127.0.0.1", username=USER, secret=SecretStr(SECRET))
    app.state.settings = settings.model_copy(update={"pbxes": [pbx]})
    try:
        ready = await client.get("/readyz")
        health = (await client.get("/health")).json()
    finally:
        app.state.settings = real
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["PBX nobody: followed by no instance"]
    assert health["pbxes"]["nobody"]["status"] == "standby"
    assert health["status"] == "degraded"


async def test_metrics_move_with_calls_and_keep_labels_bounded(
    scratch_db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(scratch_db, settings)
    async with serving(instance_settings(settings, scratch_db, sim)) as (port, app):
        await eventually(lambda: follows(app))
        agents = [Agent(port, token) for token in tokens.values()]
        for agent in agents:
            await agent.connect()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            before = samples((await http.get("/metrics")).text)
            traffic = sim.generate(rate=20, count=12, speed=None, scenarios=["queue_answered"])
            await traffic.wait()

            async def popped() -> bool:
                return all(agent.messages for agent in agents)

            await eventually(popped)
            for n in (101, 202):
                await http.get(f"/api/customers/{n}")  # 401: not signed in
            response = await http.get("/metrics")
            assert response.headers["content-type"].startswith("text/plain")
            after = samples(response.text)
        for agent in agents:
            await agent.close()

    events = value(after, "tamas_ami_events_total", pbx="hub-test")
    assert events >= value(before, "tamas_ami_events_total", pbx="hub-test") + 12
    assert value(after, "tamas_ami_connected", pbx="hub-test") == 1
    assert value(after, "tamas_ami_state", pbx="hub-test", state="connected") == 1
    assert value(after, "tamas_pbx_followed", pbx="hub-test") == 1
    assert value(after, "tamas_ami_resyncs_total", pbx="hub-test") >= 1
    assert "tamas_ami_backlog" in after and "tamas_ami_reconnects_total" in after
    assert value(after, "tamas_screenpop_connections") == 3
    assert value(after, "tamas_screenpop_agents") == 3
    assert value(after, "tamas_screenpop_pops_sent_total") > value(
        before, "tamas_screenpop_pops_sent_total"
    )
    pops = value(after, "tamas_screenpop_latency_seconds_count")
    assert pops > value(before, "tamas_screenpop_latency_seconds_count")
    assert value(after, "tamas_db_pool_size") == settings.db_pool_size
    # Route templates, not raw paths: the label set stays bounded.
    routes = {lab["route"] for lab, _ in after["tamas_http_request_duration_seconds_count"]}
    assert "/api/customers/{customer_id}" in routes
    assert not any(r.endswith(("/101", "/202")) for r in routes)
    customer = value(
        after,
        "tamas_http_request_duration_seconds_count",
        route="/api/customers/{customer_id}",
        method="GET",
        status="4xx",
    )
    assert customer >= 2
    # No secret in them.
    assert SECRET not in response.text and TEST_SECRET not in response.text
    assert all(token not in response.text for token in tokens.values())


async def test_metrics_can_require_a_token(
    scratch_db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    conf = instance_settings(settings, scratch_db, sim).model_copy(
        update={"metrics_token": SecretStr("scrape-me-0123456789")}
    )
    async with (
        serving(conf) as (port, _app),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert (await http.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await http.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer scrape-me-0123456789"}
        ok = await http.get("/metrics", headers=right)
        assert ok.status_code == 200 and "tamas_ami_events_total" in ok.text


TAMAS = str(Path(sys.executable).parent / "tamas")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tamas_env(scratch_db: Database, **extra: str) -> dict[str, str]:
    assert scratch_db.settings.database_url is not None
    return {
        **os.environ,
        "TAMAS_DATABASE_URL": scratch_db.settings.database_url.get_secret_value(),
        "TAMAS_ENVIRONMENT": "test",
        "TAMAS_SECRET_KEY": TEST_SECRET,
        "TAMAS_PBXES": "[]",
        **extra,
    }


async def start_tamas(port: int, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """``tamas serve`` in a process of its own, its logs (stderr) in ``log``."""
    with log.open("wb") as err:
        return await asyncio.create_subprocess_exec(
            TAMAS, "serve", "--port", str(port), env=env, stdout=err, stderr=err
        )


async def stop_tamas(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM, then the exit status (waiting at most a minute)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 60)


async def wait_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    async def up() -> bool:
        assert proc.returncode is None, "tamas serve exited"
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, within=60)


async def test_json_logs_parse_and_carry_request_ids(scratch_db: Database, tmp_path: Path) -> None:
    port = free_port()
    env = tamas_env(scratch_db, TAMAS_LOG_FORMAT="json", TAMAS_LOG_LEVEL="info")
    proc = await start_tamas(port, env, tmp_path / "tamas.log")
    try:
        await wait_ready(port, proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            given = await http.get("/healthz", headers={"X-Request-ID": "req-from-proxy-42"})
            made = await http.get("/api/pbx/lookup?number=1&token=very-secret-token")
    finally:
        status = await stop_tamas(proc)
    err = (tmp_path / "tamas.log").read_bytes()
    assert status == 0, err.decode()[-3000:]
    assert given.headers["x-request-id"] == "req-from-proxy-42"
    assert len(made.headers["x-request-id"]) == 32
    lines: list[dict[str, Any]] = [json.loads(line) for line in err.decode().splitlines() if line]
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    proxied = [line for line in access if line["request_id"] == "req-from-proxy-42"]
    assert [(line["path"], line["status"]) for line in proxied] == [("/healthz", 200)]
    lookup = next(line for line in access if line["path"].startswith("/api/pbx/lookup"))
    assert lookup["request_id"] == made.headers["x-request-id"]
    assert "very-secret-token" not in err.decode()
    # uvicorn's own lines and Tamas's carry their level.
    assert any(line["logger"] == "uvicorn.error" and line["level"] == "INFO" for line in lines)
    assert any(line["logger"].startswith("app.") for line in lines)


async def test_panel_sockets_are_compressed_only_when_configured(
    scratch_db: Database, tmp_path: Path
) -> None:
    """``tamas serve`` leaves permessage-deflate off unless TAMAS_WS_COMPRESSION is on: a
    browser offering it gets a plain socket (no compressor state kept per panel)."""
    import websockets

    negotiated = {}
    for setting in ("", "true"):
        port = free_port()
        extra = {"TAMAS_WS_COMPRESSION": setting} if setting else {}
        proc = await start_tamas(port, tamas_env(scratch_db, **extra), tmp_path / "t.log")
        try:
            await wait_ready(port, proc)
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/pops", compression="deflate"
            ) as ws:
                negotiated[setting] = [type(e).__name__ for e in ws.protocol.extensions]
        finally:
            await stop_tamas(proc)
    assert negotiated == {"": [], "true": ["PerMessageDeflate"]}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
