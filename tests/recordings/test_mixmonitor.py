"""MixMonitorStop: the PBX says a channel's recording is finished (``StopMixMonitor``, with
the call possibly going on), so its file is looked for at once and described without waiting
for the call to end or the file to settle; a MixMonitorStart on the same file (FreePBX's
one-touch recording appends) undoes that."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Recording
from recordings.service import RecordingService, storage_for
from telephony.events import event_from_message
from telephony.framing import Message
from telephony.listener import AmiListener, Backoff, MixMonitorFiles, PbxConfig
from telephony.model import CallEvent, Extras, RecordingNote
from telephony.simulator import AmiSimulator
from tests.fixtures.recorder import InlineRecorder
from tests.recordings.support import PBX, TRACE_FILE, check, tone
from tests.telephony.replay import replay

MONITOR = "/var/spool/asterisk/monitor"
# The customer's channel in 01_direct_answered: it runs MixMonitor.
TRUNK = "PJSIP/trunk-00000000"
UNIQUEID = "1795345220.0"


def ami(**fields: str) -> Message:
    return Message(tuple(fields.items()))


def test_the_stopped_channels_file_is_named() -> None:
    files = MixMonitorFiles()
    path = f"{MONITOR}/{TRACE_FILE}"

    def note(**fields: str) -> RecordingNote | None:
        event = event_from_message(PBX, ami(**fields), 100.0)
        assert event is not None
        return files.note(event)

    common = {"Channel": TRUNK, "Uniqueid": UNIQUEID, "Linkedid": UNIQUEID}
    assert note(Event="VarSet", Variable="MIXMONITOR_FILENAME", Value=path, **common) is None
    assert note(Event="MixMonitorStart", **common) is None  # the first start: nothing to undo
    assert note(Event="MixMonitorStop", **common) == RecordingNote(
        PBX, UNIQUEID, path, "stop", 100.0
    )
    # Started again (one-touch recording resumed): the file grows again.
    note(Event="VarSet", Variable="MIXMONITOR_FILENAME", Value=path, **common)
    assert note(Event="MixMonitorStart", **common) == RecordingNote(
        PBX, UNIQUEID, path, "start", 100.0
    )
    assert note(Event="MixMonitorStart", **common) is None
    # Another channel's stop, or one of a channel whose recording started before Tamas
    # listened: the file is not known.
    other = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "1795345220.1"}
    assert note(Event="MixMonitorStop", **other) == RecordingNote(
        PBX, "1795345220.1", "", "stop", 100.0
    )
    assert note(Event="VarSet", Variable="OTHER", Value="x.wav", **other) is None
    # Hung up: forgotten. So are the channels a resync no longer lists.
    assert note(Event="Hangup", **common) is None
    assert note(Event="MixMonitorStop", **common) == RecordingNote(PBX, UNIQUEID, "", "stop", 100.0)
    note(Event="VarSet", Variable="MIXMONITOR_FILENAME", Value=path, **common)
    files.keep({"something-else"})
    assert note(Event="MixMonitorStop", **common) == RecordingNote(PBX, UNIQUEID, "", "stop", 100.0)


async def test_the_listener_passes_mixmonitor_events_on() -> None:
    """Through a real socket: what the simulated PBX sends reaches the handler as notes."""
    got: list[RecordingNote] = []

    async def handler(events: list[CallEvent], extras: Extras | None = None) -> None:
        if extras is not None:
            got.extend(extras.recordings)

    path = f"{MONITOR}/{TRACE_FILE}"
    common = [("Channel", TRUNK), ("Uniqueid", UNIQUEID), ("Linkedid", UNIQUEID)]
    async with AmiSimulator(username="tamas", secret="mixmonitor-secret") as sim:
        listener = AmiListener(
            PbxConfig(PBX, "127.0.0.1", sim.port, "tamas", SecretStr("mixmonitor-secret")),
            handler,
            backoff=Backoff(first=0.05, most=0.5),
        )
        await listener.start()
        try:
            await _eventually(lambda: _resynced(listener))
            sim.send_event([("Event", "Newchannel"), *common])
            sim.send_event(
                [("Event", "VarSet"), *common, ("Variable", "MIXMONITOR_FILENAME"), ("Value", path)]
            )
            sim.send_event([("Event", "MixMonitorStart"), *common])
            sim.send_event([("Event", "MixMonitorStop"), *common])
            sim.send_event([("Event", "MixMonitorStart"), *common])
            await _eventually(lambda: _count(got, 2))
        finally:
            await listener.stop()
    assert [(n.uniqueid, n.path, n.source) for n in got] == [
        (UNIQUEID, path, "stop"),
        (UNIQUEID, path, "start"),
    ]


async def test_a_stopped_recording_is_described_while_the_call_goes_on(
    app: FastAPI, session: AsyncSession, app_conf: Settings
) -> None:
    conf = app_conf
    _, events = replay("01_direct_answered", pbx=PBX)
    answered = next(i for i, e in enumerate(events) if e.kind == "answered")
    recorder = InlineRecorder(app.state.sessionmaker, settings=conf)
    await recorder(events[: answered + 1])  # the call is up
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    path = recording.reported_path
    assert path == f"{MONITOR}/{TRACE_FILE}"
    # The file is there and was written to a moment ago.
    file = conf.recordings_dir / TRACE_FILE
    tone(file, 1.0)
    _touch(file)
    await check(session, conf)
    await session.refresh(recording)
    assert (recording.state, recording.attempts) == ("pending", 0)  # growing: not a try

    # A stop of a channel whose file is not known: looked for at once, still growing.
    await recorder([], Extras(recordings=[RecordingNote(PBX, UNIQUEID, "", "stop", 1.0)]))
    await session.refresh(recording)
    assert recording.next_check_at is not None
    assert recording.next_check_at <= _now()
    assert await _due(session, conf) == ("pending", 0)

    # StopMixMonitor on the trunk's channel: its file is whole. Checked now (not at the next
    # step of the waits), described although the call is up and the file is fresh.
    await recorder([], Extras(recordings=[RecordingNote(PBX, UNIQUEID, path, "stop", 1.0)]))
    await session.refresh(recording)
    assert recording.next_check_at is not None and recording.next_check_at <= _now()
    assert await _due(session, conf) == ("available", 0)
    await session.refresh(recording)
    assert recording.duration_seconds is not None
    assert abs(recording.duration_seconds - 1.0) < 0.01

    # Recording again on the same file (appending): pending again until it is whole.
    await recorder([], Extras(recordings=[RecordingNote(PBX, UNIQUEID, path, "start", 2.0)]))
    await session.refresh(recording)
    assert (recording.state, recording.available_at) == ("pending", None)
    tone(file, 2.0)
    _touch(file)
    assert await _due(session, conf) == ("pending", 0)

    # The call ends; the file settles; it is described again, whole.
    await recorder(events[answered + 1 :])
    tone(file, 2.0)
    await check(session, conf)
    await session.refresh(recording)
    assert recording.state == "available"
    assert recording.duration_seconds is not None
    assert abs(recording.duration_seconds - 2.0) < 0.01


async def test_a_stop_and_a_start_in_one_batch_leave_the_file_growing(
    app: FastAPI, session: AsyncSession, app_conf: Settings
) -> None:
    conf = app_conf
    _, events = replay("01_direct_answered", pbx=PBX)
    answered = next(i for i, e in enumerate(events) if e.kind == "answered")
    recorder = InlineRecorder(app.state.sessionmaker, settings=conf)
    await recorder(events[: answered + 1])
    path = f"{MONITOR}/{TRACE_FILE}"
    file = conf.recordings_dir / TRACE_FILE
    tone(file, 1.0)
    _touch(file)
    # A pause and a resume of one-touch recording, as the PBX sent them: in order.
    await recorder(
        [],
        Extras(
            recordings=[
                RecordingNote(PBX, UNIQUEID, path, "stop", 1.0),
                RecordingNote(PBX, UNIQUEID, path, "start", 1.5),
            ]
        ),
    )
    assert await _due(session, conf) == ("pending", 0)
    # A stop of an unknown channel is ignored.
    await recorder([], Extras(recordings=[RecordingNote(PBX, "9.9", path, "stop", 2.0)]))
    assert await _due(session, conf) == ("pending", 0)


async def _due(session: AsyncSession, conf: Settings) -> tuple[str, int]:
    """The background check as it runs (only what is due), and the recording after it."""
    await RecordingService(session, conf).check_due(storage_for(conf))
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    await session.refresh(recording)
    return recording.state, recording.attempts


def _touch(path: Path) -> None:
    """Written just now (``tone`` backdates its files)."""
    now = time.time()
    os.utime(path, (now, now))


def _now() -> datetime:
    return datetime.now(UTC)


async def _resynced(listener: AmiListener) -> bool:
    return listener.health.status == "connected" and listener.health.resyncs >= 1


async def _count(got: list[RecordingNote], n: int) -> bool:
    return len(got) >= n


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
