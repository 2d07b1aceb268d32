"""Recordings through the API: discovery from the recorded traces, finding the file, the
audio with HTTP Range, who may hear it, the audit, uploads from the PBX, retention."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import soundfile
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Recording, RecordingAudit, Role
from recordings.service import RecordingService, storage_for
from telephony.model import RecordingNote
from tests.fixtures.factories import make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.recordings.support import (
    PBX,
    QUEUE_FILE,
    TRACE_FILE,
    UPLOAD_TOKEN,
    bearer,
    check,
    record,
    team,
    tone,
)
from tests.telephony.replay import replay


async def test_a_recorded_call_gets_its_recording_once_the_file_is_there(
    app: FastAPI, session: AsyncSession, app_conf: Settings, client: httpx.AsyncClient
) -> None:
    conf = app_conf
    users = await team(session, conf)
    call = await record(app, conf, "01_direct_answered")
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    assert recording.call_id == call.id and recording.source == "mixmonitor"
    assert recording.reported_path == f"/var/spool/asterisk/monitor/{TRACE_FILE}"
    assert recording.state == "pending"
    # The CDR names the same file after the call: still one recording.
    await RecordingService(session, conf).attach(
        [], {}, [RecordingNote(PBX, call.linkedid, recording.reported_path, "cdr", 0.0)]
    )
    assert len((await session.execute(select(Recording))).scalars().all()) == 1

    await check(session, conf)  # not there yet: waits longer each time
    await session.refresh(recording)
    assert (recording.state, recording.attempts) == ("pending", 1)
    r = await client.get(f"/api/recordings/{recording.id}/audio", headers=users["sara"][1])
    assert r.status_code == 404 and "not arrived" in r.json()["error"]["message"]

    tone(conf.recordings_dir / TRACE_FILE, 1.5)
    await check(session, conf)
    await session.refresh(recording)
    data = (conf.recordings_dir / TRACE_FILE).read_bytes()
    assert recording.state == "available"
    assert recording.size == len(data)
    assert recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.duration_seconds == pytest.approx(1.5, abs=0.01)
    assert (recording.format, recording.codec, recording.content_type) == (
        "wav",
        "pcm_s16le",
        "audio/wav",
    )

    # The customer's history and the call show it to Sara, who took the call.
    detail = (await client.get(f"/api/calls/{call.id}", headers=users["sara"][1])).json()
    assert [f["id"] for f in detail["recording_files"]] == [recording.id]
    listed = await client.get(f"/api/calls/{call.id}/recordings", headers=users["sara"][1])
    assert [f["state"] for f in listed.json()] == ["available"]


async def test_range_requests_access_and_audit(
    app: FastAPI, session: AsyncSession, app_conf: Settings, client: httpx.AsyncClient
) -> None:
    conf = app_conf
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    tone(conf.recordings_dir / TRACE_FILE, 1.0)
    await check(session, conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    url = f"/api/recordings/{recording.id}/audio"
    data = (conf.recordings_dir / TRACE_FILE).read_bytes()
    size = len(data)
    sara = users["sara"][1]

    whole = await client.get(url, headers=sara)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("inline")
    first = await client.get(url, headers={**sara, "Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    middle = await client.get(url, headers={**sara, "Range": "bytes=1000-1999"})
    assert middle.status_code == 206 and middle.content == data[1000:2000]
    assert middle.headers["content-range"] == f"bytes 1000-1999/{size}"
    suffix = await client.get(url, headers={**sara, "Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.content == data[-500:]
    assert suffix.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    beyond = await client.get(url, headers={**sara, "Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    download = await client.get(url + "?download=true", headers=sara)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")

    # Who may hear it: Sara (her call) and the supervisor; not Reza, not anonymous.
    assert (await client.get(url, headers=users["boss"][1])).status_code == 200
    assert (await client.get(url, headers=users["reza"][1])).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get(f"/api/recordings/{recording.id}", headers=users["reza"][1])
    ).status_code == 404
    history = await client.get(f"/api/calls/{recording.call_id}", headers=users["reza"][1])
    assert history.status_code == 404

    # Every listen (from the start) and download is audited; seeking in the middle is not
    # another listen.
    audit = await client.get(f"/api/recordings/{recording.id}/audit", headers=users["boss"][1])
    assert audit.status_code == 200
    entries = [(a["user_id"], a["action"]) for a in audit.json()]
    sara_id, boss_id = users["sara"][0].id, users["boss"][0].id
    assert entries == [
        (sara_id, "listen"),
        (sara_id, "listen"),
        (sara_id, "download"),
        (boss_id, "listen"),
    ]
    assert (
        await client.get(f"/api/recordings/{recording.id}/audit", headers=sara)
    ).status_code == 403


async def test_formats_a_browser_cannot_play_are_converted_for_listening(
    app: FastAPI, session: AsyncSession, app_conf: Settings, client: httpx.AsyncClient
) -> None:
    conf = app_conf
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    tone(conf.recordings_dir / TRACE_FILE, 1.0, subtype="GSM610")  # MixMonitor's wav49
    await check(session, conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    assert recording.codec == "gsm"
    url = f"/api/recordings/{recording.id}/audio"
    played = await client.get(url, headers=users["sara"][1])
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    info = soundfile.info(__import__("io").BytesIO(played.content))
    assert info.subtype == "PCM_16" and info.duration == pytest.approx(1.0, abs=0.05)
    stored = await client.get(url + "?download=true", headers=users["sara"][1])
    assert stored.content == (conf.recordings_dir / TRACE_FILE).read_bytes()


async def test_paths_outside_the_root_are_never_served(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    conf = app_conf
    users = await team(session, conf)
    call = await record(app, conf, "01_direct_answered")
    secret = tmp_path / "outside" / "secret.wav"
    tone(secret)
    service = RecordingService(session, conf)
    # A PBX naming a path that climbs out is refused and never found.
    await service.attach(
        [],
        {},
        [
            RecordingNote(
                PBX,
                call.linkedid,
                "/var/spool/asterisk/monitor/../../../outside/secret.wav",
                "cdr",
                0.0,
            )
        ],
    )
    # A symlink in the root pointing outside is refused too.
    conf.recordings_dir.mkdir(parents=True, exist_ok=True)
    (conf.recordings_dir / TRACE_FILE).symlink_to(secret)
    conf2 = conf.model_copy(update={"recording_attempts": 1})
    await session.execute(update(Recording).values(next_check_at=datetime.now(UTC)))
    await RecordingService(session, conf2).check_due(storage_for(conf2))
    rows = (await session.execute(select(Recording).order_by(Recording.id))).scalars().all()
    assert [r.state for r in rows] == ["missing", "missing"]
    for r in rows:
        got = await client.get(f"/api/recordings/{r.id}/audio", headers=users["boss"][1])
        assert got.status_code == 404 and got.content != secret.read_bytes()
        assert "never arrived" in got.json()["error"]["message"]

    # A file swapped for a symlink after it was found is not followed either.
    (conf.recordings_dir / TRACE_FILE).unlink()
    tone(conf.recordings_dir / TRACE_FILE)
    await session.execute(update(Recording).values(state="pending", attempts=0))
    await check(session, conf)
    found = (
        await session.execute(select(Recording).where(Recording.state == "available"))
    ).scalar_one()
    (conf.recordings_dir / TRACE_FILE).unlink()
    (conf.recordings_dir / TRACE_FILE).symlink_to(secret)
    got = await client.get(f"/api/recordings/{found.id}/audio", headers=users["boss"][1])
    assert got.status_code == 404 and got.content != secret.read_bytes()


async def test_the_pbx_pushes_a_finished_recording(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    conf = app_conf
    await team(session, conf)
    await record(app, conf, "01_direct_answered")
    source = tmp_path / "pbx" / TRACE_FILE
    tone(source)
    body = source.read_bytes()
    url = f"/pbx/recordings?pbx={PBX}&name=/var/spool/asterisk/monitor/{TRACE_FILE}"
    assert (await client.post(url, content=body)).status_code == 401
    assert (await client.post(url, content=body, headers=bearer("wrong"))).status_code == 401
    # A user's sign-in token is not a PBX token.
    boss = await make_user(session, Role.admin)
    assert (
        await client.post(url, content=body, headers=bearer(await make_token(session, conf, boss)))
    ).status_code == 401
    bad = f"/pbx/recordings?pbx={PBX}&name=../../etc/passwd"
    assert (await client.post(bad, content=body, headers=bearer(UPLOAD_TOKEN))).status_code in (
        400,
        422,
    )
    r = await client.post(url, content=body, headers=bearer(UPLOAD_TOKEN))
    assert r.status_code == 201, r.text
    assert r.json() == {"stored_as": TRACE_FILE, "size": len(body), "recordings": 1}
    assert (conf.recordings_dir / TRACE_FILE).read_bytes() == body
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    await session.refresh(recording)
    assert recording.state == "available"  # at once
    assert recording.sha256 == hashlib.sha256(body).hexdigest()
    # Too big: refused before anything is stored.
    small = conf.model_copy(update={"recording_upload_max_mb": 1})
    app.state.settings = small
    big = f"/pbx/recordings?pbx={PBX}&name=big.wav"
    r = await client.post(big, content=b"\0" * (1024 * 1024 + 1), headers=bearer(UPLOAD_TOKEN))
    assert r.status_code == 413
    assert not (conf.recordings_dir / "big.wav").exists()


async def test_retention_deletes_old_recordings_but_not_held_ones(
    app: FastAPI, session: AsyncSession, app_conf: Settings, client: httpx.AsyncClient
) -> None:
    conf = app_conf
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    _, events = replay("04_queue_answered", pbx=PBX)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    tone(conf.recordings_dir / TRACE_FILE)
    queue_file = QUEUE_FILE
    tone(conf.recordings_dir / queue_file)
    await check(session, conf)
    direct, queued = (
        (await session.execute(select(Recording).order_by(Recording.id))).scalars().all()
    )
    assert (direct.state, queued.state) == ("available", "available")
    # Both calls are from long ago; the queue call's recording is on legal hold.
    await session.execute(update(Call).values(started_at=datetime.now(UTC) - timedelta(days=40)))
    r = await client.put(
        f"/api/recordings/{queued.id}/hold", json={"hold": True}, headers=users["boss"][1]
    )
    assert r.status_code == 200 and r.json()["legal_hold"] is True
    r = await client.put(
        f"/api/recordings/{queued.id}/hold", json={"hold": False}, headers=users["sara"][1]
    )
    assert r.status_code == 403  # agents cannot
    kept = conf.model_copy(update={"recording_retention_days": 30})
    service = RecordingService(session, kept)
    assert await service.purge(storage_for(kept), dry_run=True) == [direct.id]
    assert await service.purge(storage_for(kept)) == [direct.id]
    await session.refresh(direct)
    await session.refresh(queued)
    assert (direct.state, queued.state) == ("deleted", "available")
    assert not (conf.recordings_dir / TRACE_FILE).exists()
    assert (conf.recordings_dir / queue_file).exists()
    audit = (
        (await session.execute(select(RecordingAudit).order_by(RecordingAudit.id))).scalars().all()
    )
    assert [(a.recording_id, a.user_id, a.action) for a in audit] == [
        (queued.id, users["boss"][0].id, "hold"),
        (direct.id, None, "delete"),
    ]
    got = await client.get(f"/api/recordings/{direct.id}/audio", headers=users["boss"][1])
    assert got.status_code == 404 and "retention" in got.json()["error"]["message"]
    # A queue kept longer by its own rule.
    per_queue = conf.model_copy(
        update={"recording_retention_days": 30, "recording_retention_by_queue": {"support": 0}}
    )
    await client.put(
        f"/api/recordings/{queued.id}/hold", json={"hold": False}, headers=users["boss"][1]
    )
    assert await RecordingService(session, per_queue).purge(storage_for(per_queue)) == []


async def test_several_recordings_of_one_call_stay_in_order(
    app: FastAPI, session: AsyncSession, app_conf: Settings
) -> None:
    conf = app_conf
    _, events = replay("07_blind_transfer", pbx=PBX)
    last = events[-1]
    second = "/var/spool/asterisk/monitor/20261122-110230-in-1002-09127778899-1795345340.20.wav"
    call = dataclasses.replace(last.call, recordings=(*last.call.recordings, second))
    await InlineRecorder(app.state.sessionmaker, settings=conf)(
        [*events[:-1], dataclasses.replace(last, call=call)]
    )
    rows = (await session.execute(select(Recording).order_by(Recording.position))).scalars().all()
    assert [r.reported_path for r in rows] == [*last.call.recordings, second]
    assert [r.position for r in rows] == [0, 1]


@pytest.mark.parametrize("content", [b"", "header"])
async def test_an_empty_recording_is_marked_not_offered_to_play(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    content: bytes | str,
) -> None:
    """MixMonitor's file of a call whose customer leg never got audio: 44 bytes, a WAV header
    with no frame (02, 03, A3 in the traces), or nothing at all."""
    conf = app_conf
    users = await team(session, conf)
    call = await record(app, conf, "01_direct_answered")
    path = conf.recordings_dir / TRACE_FILE
    if content == "header":
        tone(path, 0.0)
        assert len(path.read_bytes()) == 44
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        old = datetime.now(UTC).timestamp() - 60
        os.utime(path, (old, old))
    await check(session, conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    assert recording.state == "empty" and recording.next_check_at is None
    detail = (await client.get(f"/api/calls/{call.id}", headers=users["sara"][1])).json()
    assert [(f["id"], f["state"]) for f in detail["recording_files"]] == [(recording.id, "empty")]
    r = await client.get(f"/api/recordings/{recording.id}/audio", headers=users["sara"][1])
    assert r.status_code == 404 and "no sound" in r.json()["error"]["message"]
    # A call with a real recording is still "available" (the first test): only sound counts.
