"""What the recordings' API tests share: a recorded call stored as the listener stores it,
audio files, the background check run at once, a team of users."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Recording, Role, User
from recordings.service import RecordingService, storage_for
from tests.fixtures.factories import make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay

PBX = "rec"
TRACE_FILE = "20261122-110020-in-100-09121234567-1795345220.0.wav"
QUEUE_FILE = "20261122-110128-q-support-09121234567-1795345288.8.wav"
UPLOAD_TOKEN = "pbx-upload-token-for-tests"


def tone(path: Path, seconds: float = 1.0, subtype: str = "PCM_16", fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(8000 * seconds)) / 8000
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 8000, subtype=subtype, format=fmt)
    # Written a minute ago: finished (a file modified in the last seconds is still growing).
    old = time.time() - 60
    os.utime(path, (old, old))


def tone_bytes(seconds: float = 1.0, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    t = np.arange(int(8000 * seconds)) / 8000
    soundfile.write(out, 0.3 * np.sin(2 * np.pi * 440 * t), 8000, subtype=subtype, format="WAV")
    return out.getvalue()


async def record(app: FastAPI, conf: Settings, name: str) -> Call:
    """The trace's customer call stored as the listener stores it."""
    _, events = replay(name, pbx=PBX)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    async with app.state.sessionmaker() as session:
        calls = (await session.execute(select(Call).where(Call.pbx == PBX))).scalars().all()
    return next(c for c in calls if c.direction == "inbound")


async def check(session: AsyncSession, conf: Settings) -> None:
    """Run the background check now, as if every wait were over."""
    await session.execute(update(Recording).values(next_check_at=datetime.now(UTC)))
    await RecordingService(session, conf).check_due(storage_for(conf))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def team(session: AsyncSession, conf: Settings) -> dict[str, tuple[User, dict[str, str]]]:
    out = {}
    for name, role, devices in (
        ("sara", Role.agent, ["PJSIP/1001"]),
        ("reza", Role.agent, ["PJSIP/1002"]),
        ("boss", Role.supervisor, []),
    ):
        user = await make_user(session, role, username=f"{name}-rec", devices=devices)
        out[name] = (user, bearer(await make_token(session, conf, user)))
    return out
