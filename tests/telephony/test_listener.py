"""The whole path on real sockets: simulator (replaying what a real Asterisk sent) ->
listener -> tracker -> database. Plus what goes wrong: reconnects, PBX restarts, garbage,
wrong passwords."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, inspect, select

from app.db import Database, unit_of_work
from app.models import Call, CallLeg
from telephony.handlers import CallRecorder
from telephony.listener import AmiListener, Backoff, PbxConfig
from telephony.simulator import AmiSimulator
from tests.telephony.replay import replay
from tests.telephony.traces import (
    AMI_DIR,
    call_trace_names,
    expected_calls,
    expected_row,
    trace_facts,
)

USER, SECRET = "tamas", "sim-secret-1"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def listener_for(sim: AmiSimulator, pbx: str, db: Database, secret: str = SECRET) -> AmiListener:
    assert db.sessionmaker is not None
    return AmiListener(
        PbxConfig(pbx, "127.0.0.1", sim.port, USER, SecretStr(secret)),
        CallRecorder(db.sessionmaker),
        backoff=Backoff(first=0.05, most=0.5),
    )


async def calls_of(db: Database, pbx: str) -> list[Call]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        rows = await session.execute(select(Call).where(Call.pbx == pbx).order_by(Call.id))
        return list(rows.scalars())


async def legs_of(db: Database, pbx: str) -> list[CallLeg]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        return list((await session.execute(select(CallLeg).where(CallLeg.pbx == pbx))).scalars())


def as_expected(call: Call) -> dict[str, Any]:
    """A stored call as expected.json writes it."""
    return expected_row({a.key: getattr(call, a.key) for a in inspect(Call).column_attrs})


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        await session.execute(delete(Call))


async def run_trace(name: str, db: Database) -> list[Call]:
    """Replay one trace at its recorded pace through a listener; its calls once all ended."""
    expected = len(expected_calls()[name])
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, name, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))
            replay = sim.replay(AMI_DIR / f"{name}.ami", pace="recorded")
            await replay.wait()

            async def all_ended() -> bool:
                calls = [c for c in await calls_of(db, name) if c.direction != "internal"]
                return len(calls) >= expected and all(c.ended_at for c in calls)

            await eventually(all_ended)
            assert listener.health.malformed == 0
            assert listener.health.handler_errors == 0
        finally:
            await listener.stop()
    return await calls_of(db, name)


async def _connected(listener: AmiListener) -> bool:
    return listener.health.status == "connected" and listener.health.resyncs >= 1


async def test_every_trace_through_the_socket(db: Database) -> None:
    names = call_trace_names()
    results = await asyncio.gather(*(run_trace(name, db) for name in names))
    for name, calls in zip(names, results, strict=True):
        customer = [c for c in calls if c.direction != "internal"]
        got = sorted((as_expected(c) for c in customer), key=lambda r: (r["number"], r["outcome"]))
        want = sorted(expected_calls()[name], key=lambda r: (r["number"], r["outcome"]))
        assert got == want, name
        facts = trace_facts(name)
        # The consultation call of an attended transfer keeps its own recording.
        assert sorted(p for c in calls for p in c.recordings) == sorted(
            r["path"] for r in facts.get("recordings", [])
        ), name
        truth = facts.get("crm_call_log") or {}
        for key, column in (("wait_s", "wait_seconds"), ("talk_s", "talk_seconds")):
            if key in truth:
                assert getattr(customer[0], column) == pytest.approx(truth[key], abs=1.0), name
        if "caller_name" in truth:
            assert customer[0].caller_name == truth["caller_name"]
        # One row per channel, never two.
        legs = await legs_of(db, name)
        assert len({leg.uniqueid for leg in legs}) == len(legs)


async def test_drop_mid_call_then_resync_logs_each_call_once(db: Database) -> None:
    name, pbx = "11_actions_busy", "drop-test"
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, pbx, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))
            recording = AMI_DIR / f"{name}.ami"
            replay = sim.replay(recording, pace="max", until=_time_into(name, 0.5))
            await replay.wait()
            await eventually(lambda: _live_calls(db, pbx, 2))
            logins = listener.logins
            sim.drop_connections()

            async def back() -> bool:
                return listener.logins > logins and await _connected(listener)

            await eventually(back)
            replay.resume()
            await replay.wait()

            async def settled() -> bool:
                calls = await calls_of(db, pbx)
                return len(calls) == 3 and all(c.ended_at for c in calls)

            await eventually(settled)
            calls = await calls_of(db, pbx)
            assert sorted(c.outcome for c in calls) == ["abandoned", "answered", "answered"]
        finally:
            await listener.stop()


async def test_pbx_restart_closes_calls_with_a_reason(db: Database) -> None:
    name, pbx = "11_actions_busy", "restart-test"
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, pbx, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))
            replay = sim.replay(AMI_DIR / f"{name}.ami", pace="max", until=_time_into(name, 0.5))
            await replay.wait()
            await eventually(lambda: _live_calls(db, pbx, 2))
            resyncs = listener.health.resyncs
            await sim.restart(downtime=0.2)

            async def closed() -> bool:
                calls = await calls_of(db, pbx)
                return (
                    listener.health.resyncs > resyncs
                    and bool(calls)
                    and all(c.ended_at for c in calls)
                )

            await eventually(closed)
            calls = await calls_of(db, pbx)
            assert all("not observed" in c.end_reason for c in calls)
            assert len({c.linkedid for c in calls}) == len(calls)
        finally:
            await listener.stop()


async def test_garbage_is_counted_and_the_stream_goes_on(db: Database) -> None:
    pbx = "garbage-test"
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, pbx, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))
            sim.send_garbage(b"this is not AMI at all\r\n\r\n")
            sim.send_garbage(b"Event: Newchannel\r\nCallerIDName: \xff\xfe broken\r\n\r\n")
            replay = sim.replay(AMI_DIR / "A1_persian_name_direct_answered.ami", pace="max")
            await replay.wait()

            async def done() -> bool:
                calls = await calls_of(db, pbx)
                return len(calls) == 1 and calls[0].ended_at is not None

            await eventually(done)
            [call] = await calls_of(db, pbx)
            assert call.caller_name == "علی رضایی" and call.outcome == "answered"
            await eventually(lambda: _malformed(listener))
        finally:
            await listener.stop()


async def _malformed(listener: AmiListener) -> bool:
    protocol = getattr(listener._manager, "protocol", None)
    return getattr(protocol, "malformed", 0) >= 1


async def test_wrong_secret_and_refused_connection_are_visible(db: Database) -> None:
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, "wrong-secret", db, secret="not-it")
        await listener.start()
        try:

            async def failed() -> bool:
                return "authentication failed" in listener.health.reason

            await eventually(failed)
            assert listener.health.status in ("failed", "retrying")
            assert listener.health.retry_in_seconds is not None
            assert "not-it" not in repr(listener.health.as_dict())
        finally:
            await listener.stop()
        port = sim.port
    # Nothing listens there any more.
    assert db.sessionmaker is not None
    listener = AmiListener(
        PbxConfig("refused", "127.0.0.1", port, USER, SecretStr(SECRET)),
        CallRecorder(db.sessionmaker),
        backoff=Backoff(first=0.05, most=0.2),
    )
    await listener.start()
    try:

        async def refused() -> bool:
            return listener.health.reason.startswith("cannot connect")

        await eventually(refused)
    finally:
        await listener.stop()


async def _live_calls(db: Database, pbx: str, n: int) -> bool:
    return len([c for c in await calls_of(db, pbx) if c.ended_at is None]) >= n


def _time_into(name: str, fraction: float) -> float:
    rows = (AMI_DIR / f"{name}.ami.idx").read_text().splitlines()
    first, last = float(rows[0].split("\t")[2]), float(rows[-1].split("\t")[2])
    return first + (last - first) * fraction


async def test_calls_that_ended_while_nobody_listened_are_closed_at_the_first_resync(
    db: Database,
) -> None:
    """Tamas was down (or the instance that followed the PBX died) while calls ended: the
    calls stored as up that the PBX no longer has are closed when a listener connects, and
    nothing of another PBX is touched."""
    assert db.sessionmaker is not None
    recorder = CallRecorder(db.sessionmaker)
    pbx = "unseen-end"
    for trace, up_to, on in (
        ("01_direct_answered", "answered", pbx),
        ("05_queue_abandoned", "ringing", pbx),
        ("01_direct_answered", "answered", "another-pbx"),
    ):
        _, events = replay(trace, pbx=on)
        cut = next(i for i, e in enumerate(events) if e.kind == up_to)
        await recorder(events[: cut + 1])
    await recorder.stop()
    assert [c.outcome for c in await calls_of(db, pbx)] == ["live", "live"]
    async with AmiSimulator(username=USER, secret=SECRET) as sim:
        listener = listener_for(sim, pbx, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))

            async def closed() -> bool:
                return all(c.ended_at for c in await calls_of(db, pbx))

            await eventually(closed)
        finally:
            await listener.stop()
    answered, abandoned = await calls_of(db, pbx)
    assert (answered.outcome, abandoned.outcome) == ("answered", "missed")
    for call in (answered, abandoned):
        assert call.end_reason.startswith("end not observed")
        assert call.ended_at is not None and call.ended_at >= call.started_at
    assert answered.answered_at is not None and answered.talk_seconds > 0
    assert all(leg.ended_at for leg in await legs_of(db, pbx))
    assert [c.outcome for c in await calls_of(db, "another-pbx")] == ["live"]
    async with unit_of_work(db.sessionmaker) as session:
        await session.execute(delete(Call).where(Call.pbx == "another-pbx"))
