"""Recordings discovered from the recorded traces, live: the simulated PBX replays real
calls, the listener stores them with the recordings Asterisk named, and the background task
finds each file in the recordings root (the PBX's spool, mounted) and describes it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import soundfile
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Call, Recording
from telephony.simulator import AmiSimulator
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving
from tests.telephony.traces import trace_facts

TRACES = ("01_direct_answered", "04_queue_answered", "06_click_to_call", "07_blind_transfer")


async def test_every_recording_the_pbx_named_is_found_and_described(
    db: Database, sim: AmiSimulator, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "monitor"
    expected = {}
    for name in TRACES:
        for rec in trace_facts(name)["recordings"]:
            path = root / Path(rec["path"]).name
            path.parent.mkdir(parents=True, exist_ok=True)
            samples = np.zeros(8000, dtype=np.int16)
            soundfile.write(path, samples, 8000, subtype="PCM_16")
            old = time.time() - 60
            os.utime(path, (old, old))
            expected[rec["path"]] = path.stat().st_size
    conf = instance_settings(settings, db, sim).model_copy(update={"recordings_root": root})
    async with serving(conf) as (_port, app):
        await eventually(lambda: follows(app))
        for name in TRACES:
            await replay(sim, name)
        assert db.sessionmaker is not None

        async def all_available() -> bool:
            async with db.sessionmaker() as session:  # type: ignore[union-attr]
                rows = (await session.execute(select(Recording))).scalars().all()
            return len(rows) == len(expected) and all(r.state == "available" for r in rows)

        await eventually(all_available, within=60)
        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Recording, Call).join(Call, Call.id == Recording.call_id)
                )
            ).all()
    assert {r.reported_path: r.size for r, _ in rows} == expected
    for recording, call in rows:
        assert recording.source == "mixmonitor"
        assert call.linkedid in recording.reported_path  # the file of its own call
        assert recording.duration_seconds == 1.0
