"""The database failing while calls go on: a real stop and start of a PostgreSQL server of
the module's own (events held, nothing lost, /health degraded meanwhile), the buffer filling
up, and a batch that fails on its own data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select, text

from app.config import PbxSettings, Settings
from app.db import Database, unit_of_work
from app.models import Call, PopEvent, Role
from telephony.simulator import AmiSimulator
from tests.faults.support import (
    SECRET,
    USER,
    Heard,
    OwnPostgres,
    all_logged,
    calls_of,
    connected,
    eventually,
    figure,
    listener_for,
    stop,
)
from tests.fixtures.factories import make_user
from tests.screenpop.support import serving
from tests.telephony.traces import AMI_DIR

OUTAGE = 30.0


@pytest.fixture
async def own_db(own_pg: OwnPostgres, settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.model_copy(update={"database_url": SecretStr(own_pg.url)}))
    await db.open()
    try:
        yield db
    finally:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(delete(PopEvent))
            await session.execute(delete(Call))
        await db.close()


async def _health(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        body: dict[str, Any] = (await client.get("/health")).json()
        return body


async def test_database_stopped_for_30_s_during_calls(
    own_pg: OwnPostgres, own_db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    pbx = "db-outage"
    assert own_db.sessionmaker is not None
    async with unit_of_work(own_db.sessionmaker) as session:
        for agent in sim.agents:
            await make_user(session, Role.agent, devices=[f"PJSIP/{agent.extension}"])
    conf = settings.model_copy(
        update={
            "database_url": SecretStr(own_pg.url),
            "pbxes": [
                PbxSettings(
                    id=pbx, host="127.0.0.1", port=sim.port, username=USER, secret=SecretStr(SECRET)
                )
            ],
        }
    )
    heard = Heard(sim)
    async with serving(conf) as (port, app):

        async def follows() -> bool:
            listener = app.state.leadership.listeners.get(pbx)
            return listener is not None and await connected(listener)

        await eventually(follows)
        listener = app.state.leadership.listeners[pbx]
        assert (await _health(port))["status"] == "ok"
        # Calls of about 10-40 s each, two a second, for about 75 s.
        traffic = sim.generate(rate=2, speed=2, count=150, wait_for_clients=False)
        await asyncio.sleep(5)
        stopped_at = time.time()
        await asyncio.to_thread(own_pg.stop)
        stopped = time.monotonic()
        seen: list[dict[str, Any]] = []
        while time.monotonic() - stopped < OUTAGE:
            seen.append(await _health(port))
            await asyncio.sleep(1)
        await asyncio.to_thread(own_pg.start)
        back = time.time()
        during = seen[len(seen) // 2 :]  # the listener has tried the database by then
        assert all(h["status"] == "degraded" for h in seen)
        assert all(h["pbxes"][pbx]["database"].startswith("unreachable since") for h in during)
        assert max(h["pbxes"][pbx]["buffered"] for h in seen) > 0
        assert listener.health.status == "connected"  # it went on reading the PBX meanwhile

        async def caught_up() -> bool:
            h = await _health(port)
            return h["status"] == "ok" and h["pbxes"][pbx]["buffered"] == 0

        await eventually(caught_up)
        assert app.state.leadership.listeners.get(pbx) is listener  # kept through it
        await traffic.wait()
        await eventually(lambda: all_logged(own_db, pbx, heard))
        calls = await calls_of(own_db, pbx)
        assert len({c.linkedid for c in calls}) == len(calls)
        assert {c.linkedid for c in calls} >= heard.linkedids
        assert not heard.never_heard  # the PBX connection never went down
        assert all(not c.end_reason for c in calls), "every end was seen"

        # Nobody is rung for a call that ended while the database was away; the calls still
        # up when it came back get their pops then.
        def during(at: datetime | None) -> bool:
            return at is not None and stopped_at <= at.timestamp() < back

        ended_during = {c.linkedid for c in calls if during(c.ended_at)}
        live_at_return = {
            c.linkedid for c in calls if during(c.started_at) and not during(c.ended_at)
        }
        async with own_db.sessionmaker() as session:
            late = await session.execute(
                select(PopEvent.linkedid, PopEvent.payload["state"].astext).where(
                    PopEvent.pbx == pbx, PopEvent.created_at >= datetime.fromtimestamp(back, UTC)
                )
            )
            popped = late.all()
        assert ended_during and live_at_return
        assert not {i for i, state in popped if state in ("ringing", "dialling")} & ended_during
        assert {i for i, _ in popped} & live_at_return
        h = listener.health
        assert h.poisoned == 0 and h.buffer_full_episodes == 0
        figure("database outage: length (s)", h.last_outage_seconds)
        figure("database outage: catch-up after it came back (s)", h.last_catch_up_seconds)
        figure("database outage: most calls held / calls logged", f"{h.buffer_peak} / {len(calls)}")


async def test_a_full_buffer_lets_the_pbx_go_then_resyncs(
    own_pg: OwnPostgres, own_db: Database, sim: AmiSimulator
) -> None:
    pbx = "buffer-full"
    heard = Heard(sim)
    listener, recorder = listener_for(sim, pbx, own_db, buffer_calls=20)
    await listener.start()
    try:
        await eventually(lambda: connected(listener))
        traffic = sim.generate(rate=3, speed=3, count=120, wait_for_clients=False)
        await asyncio.sleep(2)
        await asyncio.to_thread(own_pg.stop)

        async def let_go() -> bool:
            return listener.health.buffer_full_episodes == 1 and sim.clients == 0

        await eventually(let_go)
        assert listener.health.status == "paused"
        assert "stopped reading the PBX" in listener.health.reason
        held = listener.health.buffered
        assert held >= 20
        await asyncio.sleep(3)  # calls go on unheard
        resyncs = listener.health.resyncs
        await asyncio.to_thread(own_pg.start)

        async def resynced() -> bool:
            return listener.health.resyncs > resyncs and await connected(listener)

        await eventually(resynced)
        assert listener.health.buffer_full_episodes == 1
        await traffic.wait()
        await eventually(lambda: all_logged(own_db, pbx, heard))
        calls = await calls_of(own_db, pbx)
        assert len({c.linkedid for c in calls}) == len(calls)
        assert heard.never_heard, "calls went by while the PBX was let go"
        figure(
            "buffer full (20 calls): held at the most / calls never heard while let go",
            f"{listener.health.buffer_peak} / {len(heard.never_heard)}",
        )
    finally:
        await stop(listener, recorder)


async def test_a_poison_batch_does_not_block_later_calls(db: Database, sim: AmiSimulator) -> None:
    pbx = "poison"
    poisoned_number = "09351112233"  # the caller of the 03 trace
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        await session.execute(
            text(
                "ALTER TABLE calls ADD CONSTRAINT faults_poison CHECK "
                f"(pbx <> '{pbx}' OR customer_number <> '{poisoned_number}')"
            )
        )
    heard = Heard(sim)
    listener, recorder = listener_for(sim, pbx, db)
    await listener.start()
    try:
        await eventually(lambda: connected(listener))
        # The poisoned call among generated ones, in the same batches.
        traffic = sim.generate(rate=20, speed=None, realtime=False, count=40)
        await sim.replay(AMI_DIR / "03_direct_busy.ami", pace="max").wait()
        await traffic.wait()
        # And after it, calls still go through.
        await sim.replay(AMI_DIR / "A1_persian_name_direct_answered.ami", pace="max").wait()

        async def settled() -> bool:
            calls = await calls_of(db, pbx)
            return (
                listener.health.poisoned >= 1
                and "09121234567" in {c.customer_number for c in calls}
                and len(calls) >= len(heard.linkedids) - 1
                and all(c.ended_at for c in calls)
            )

        await eventually(settled)
        calls = await calls_of(db, pbx)
        assert poisoned_number not in {c.customer_number for c in calls}
        missing = heard.linkedids - {c.linkedid for c in calls}
        assert len(missing) == 1  # the poisoned call alone
        assert listener.health.database == "ok"
        figure("poison: events given up", listener.health.poisoned)
    finally:
        await stop(listener, recorder)
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(text("ALTER TABLE calls DROP CONSTRAINT faults_poison"))
