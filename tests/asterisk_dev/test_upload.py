"""Pushing a finished recording: the upload script run against a live Tamas."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.config import Settings
from tests.asterisk_dev.support import (
    TOKEN,
    UPLOAD,
)


async def run_upload(path: Path, env: dict[str, str]) -> int:
    proc = await asyncio.create_subprocess_exec(str(UPLOAD), str(path), env=os.environ | env)
    return await asyncio.wait_for(proc.wait(), 120)


async def test_the_upload_script_pushes_a_recording_to_tamas(
    live: str, pbx_settings: Settings, tmp_path: Path
) -> None:
    name = "20261124-101500-q-200-09121234567-1795347184.7.wav"
    wav = tmp_path / "monitor" / name
    wav.parent.mkdir()
    wav.write_bytes(b"RIFF" + os.urandom(4000))
    log = tmp_path / "upload.log"
    stored = pbx_settings.recordings_dir / name
    env = {"TAMAS_URL": live, "TAMAS_PBX_TOKEN": TOKEN, "TAMAS_UPLOAD_LOG": str(log)}
    try:
        assert await run_upload(wav, env) == 0
        assert stored.read_bytes() == wav.read_bytes()
        assert not log.exists()
    finally:
        stored.unlink(missing_ok=True)

    # Refused (a wrong token): said in the log, without the token; nothing stored.
    assert await run_upload(wav, env | {"TAMAS_PBX_TOKEN": "not-the-token"}) == 0
    assert not stored.exists()
    written = log.read_text()
    assert "upload failed" in written and "401" in written and "not-the-token" not in written
    # Not configured, or no such file: said too.
    nowhere = str(tmp_path / "no.conf")
    assert await run_upload(wav, env | {"TAMAS_URL": "", "TAMAS_UPLOAD_CONF": nowhere}) == 0
    assert await run_upload(tmp_path / "nothing.wav", env) == 0
    lines = log.read_text().splitlines()
    assert "TAMAS_URL and TAMAS_PBX_TOKEN must be set" in lines[-2]
    assert lines[-1].endswith("nothing.wav: no such file")

    # The settings in a file instead (FreePBX, Issabel: no environment of Asterisk's own).
    conf = tmp_path / "tamas-upload.conf"
    conf.write_text(f"TAMAS_URL={live}\nTAMAS_PBX_TOKEN={TOKEN}\n")
    bare = {"TAMAS_URL": "", "TAMAS_PBX_TOKEN": "", "TAMAS_UPLOAD_LOG": str(log)}
    try:
        assert await run_upload(wav, bare | {"TAMAS_UPLOAD_CONF": str(conf)}) == 0
        assert stored.read_bytes() == wav.read_bytes()
    finally:
        stored.unlink(missing_ok=True)
    assert log.read_text().splitlines() == lines
