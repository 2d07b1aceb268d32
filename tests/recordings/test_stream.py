"""The player's signed addresses and the local copies' pruning: HTTP Range at a signed
address over a real socket (206, 416), forged and expired addresses refused (403), the
signature's own rules, and the cache pruned by age and size, never a file being served."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Recording, RecordingAudit, User
from recordings import cache, signing
from recordings.cache import Entry, ServingFiles, choose
from recordings.service import browser_copies_dir
from tests.recordings.support import TRACE_FILE, check, record, team, tone
from tests.screenpop.support import eventually

# -- the signature ---------------------------------------------------------------------------


def test_a_signature_covers_the_recording_the_user_and_the_expiry() -> None:
    key = "k" * 40
    sig, expires = signing.sign(key, 7, 3, now=1000.0, ttl=60)
    assert expires == 1060
    grant = signing.verify(key, 7, 3, expires, sig, now=1059.9)
    assert (grant.recording_id, grant.user_id) == (7, 3)
    for rec, user, exp in ((8, 3, expires), (7, 4, expires), (7, 3, expires + 3600)):
        with pytest.raises(signing.BadSignature):
            signing.verify(key, rec, user, exp, sig, now=1000.0)
    with pytest.raises(signing.BadSignature):
        signing.verify("another key" * 4, 7, 3, expires, sig, now=1000.0)
    with pytest.raises(signing.BadSignature):
        signing.verify(key, 7, 3, expires, sig[:-1] + ("A" if sig[-1] != "A" else "B"), 1000)
    with pytest.raises(signing.Expired):
        signing.verify(key, 7, 3, expires, sig, now=1060.0)


# -- over a real socket ------------------------------------------------------------------------


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


@asynccontextmanager
async def over_tcp(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app (its lifespan already entered by the fixture) served by uvicorn on a port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server))
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def _recorded(
    app: FastAPI, session: AsyncSession, conf: Settings, seconds: float, subtype: str = "PCM_16"
) -> tuple[Recording, dict[str, tuple[User, dict[str, str]]]]:
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    tone(conf.recordings_dir / TRACE_FILE, seconds, subtype=subtype)
    await check(session, conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    assert recording.state == "available"
    return recording, users


async def test_the_signed_address_streams_by_range_and_refuses_forgeries(
    app: FastAPI, session: AsyncSession, app_conf: Settings, client: httpx.AsyncClient
) -> None:
    conf = app_conf
    recording, users = await _recorded(app, session, conf, 5.0)
    sara, sara_h = users["sara"]
    data = (conf.recordings_dir / TRACE_FILE).read_bytes()
    size = len(data)

    r = await client.get(f"/api/recordings/{recording.id}/stream-url", headers=sara_h)
    assert r.status_code == 200, r.text
    grant = r.json()
    assert grant["expires_in"] == conf.recording_url_ttl_seconds
    url = grant["url"]
    assert url.startswith(f"/api/recordings/{recording.id}/stream?")
    # Not for a colleague who did not take the call; not without a token.
    assert (
        await client.get(f"/api/recordings/{recording.id}/stream-url", headers=users["reza"][1])
    ).status_code == 404
    assert (await client.get(f"/api/recordings/{recording.id}/stream-url")).status_code == 401

    async with over_tcp(app) as web:
        first = await web.get(url, headers={"Range": "bytes=0-"})  # what <audio> asks first
        assert first.status_code == 206 and first.content == data
        assert first.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
        assert first.headers["accept-ranges"] == "bytes"
        middle = await web.get(url, headers={"Range": "bytes=40000-49999"})
        assert middle.status_code == 206 and middle.content == data[40000:50000]
        assert middle.headers["content-range"] == f"bytes 40000-49999/{size}"
        assert middle.headers["content-length"] == "10000"
        tail = await web.get(url, headers={"Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == data[-100:]
        beyond = await web.get(url, headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"
        whole = await web.get(url)
        assert whole.status_code == 200 and whole.content == data

        # Forged: another recording's id, another user, a later expiry, a changed signature.
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        path = urlsplit(url).path
        reza = users["reza"][0]
        forged = [
            (path.replace(f"/{recording.id}/", f"/{recording.id + 1}/"), query),
            (path, {**query, "user": str(reza.id)}),
            (path, {**query, "expires": str(int(query["expires"]) + 3600)}),
            (path, {**query, "signature": "A" * len(query["signature"])}),
        ]
        for where, params in forged:
            refused = await web.get(where, params=params)
            assert refused.status_code == 403, (params, refused.text)
            assert refused.json()["error"]["code"] == "bad_signature"
        assert (await web.get(path)).status_code == 422  # no signature at all

        # Expired: signed by this server, its time up.
        key = conf.secret_key.get_secret_value()
        sig, expires = signing.sign(key, recording.id, sara.id, time.time() - 120, 60)
        late = await web.get(path, params={"user": sara.id, "expires": expires, "signature": sig})
        assert late.status_code == 403 and late.json()["error"]["code"] == "expired"

        # A user deactivated since: the address no longer works.
        await session.execute(update(User).where(User.id == sara.id).values(is_active=False))
        assert (await web.get(url, headers={"Range": "bytes=0-99"})).status_code == 403

    # Listens are audited as the address's user: from the start (twice), not the seeks.
    trail = (
        await session.execute(
            select(RecordingAudit.user_id, RecordingAudit.action)
            .where(RecordingAudit.recording_id == recording.id)
            .order_by(RecordingAudit.id)
        )
    ).all()
    assert [tuple(t) for t in trail] == [(sara.id, "listen"), (sara.id, "listen")]


async def test_a_copy_being_served_is_never_pruned(
    app: FastAPI, session: AsyncSession, app_conf: Settings
) -> None:
    """A µ-law recording is served from a converted copy; the pruner, told to keep nothing,
    leaves that copy alone while a response is sending it, and drops it once it is sent."""
    conf = app_conf.model_copy(
        update={"recordings_cache_max_mb": 1, "recordings_cache_max_age_hours": 1 / 3600}
    )
    app.state.settings = conf
    recording, users = await _recorded(app, session, conf, 600.0, subtype="ULAW")
    tasks = app.state.recording_tasks
    tasks.settings = conf
    audio = f"/api/recordings/{recording.id}/audio"
    copies = browser_copies_dir(conf)
    async with over_tcp(app) as web:
        async with web.stream("GET", audio, headers=users["sara"][1]) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "audio/wav"
            chunks = response.aiter_bytes()
            first = await anext(chunks)
            assert first[:4] == b"RIFF"
            [copy] = list(copies.iterdir())
            assert copy.stat().st_size > 5 * 1024 * 1024  # far more than the 1 MB allowed
            assert tasks.serving.busy(copy)  # the response is still sending it
            # Old as well as too big: only being served keeps it.
            old = time.time() - 7200
            os.utime(copy, (old, old))
            pruned = await tasks.prune_cache_once()
            assert pruned.deleted == 0 and copy.exists()
            received = len(first)
            async for chunk in chunks:
                received += len(chunk)
            assert received == copy.stat().st_size
        # Sent (the response lets go of it once its last byte is written): the next pass
        # drops it (old, and above the size).

        async def sent() -> bool:
            return not tasks.serving.busy(copy)

        await eventually(sent)
        os.utime(copy, (old, old))
        pruned = await tasks.prune_cache_once()
        assert pruned.deleted == 1 and not copy.exists()
        # Asked for again, it is made again.
        again = await web.get(audio, headers={**users["sara"][1], "Range": "bytes=0-99"})
        assert again.status_code == 206 and again.content[:4] == b"RIFF"
        assert len(list(copies.iterdir())) == 1


# -- choosing what to prune ------------------------------------------------------------------


def _e(name: str, size: int, age: float, now: float = 10_000.0) -> Entry:
    return Entry(Path(f"/cache/{name}"), size, now - age)


def test_pruned_by_age_then_by_size_least_recently_used_first() -> None:
    now = 10_000.0
    entries = [
        _e("ancient", 10, 5000),
        _e("old", 30, 900),
        _e("older", 30, 1200),
        _e("recent", 30, 300),
        _e("fresh", 30, 5),  # being written: never chosen
    ]
    names = lambda chosen: sorted(e.path.name for e in chosen)  # noqa: E731
    # Age alone (an hour): only the ancient one.
    assert names(choose(entries, now=now, max_bytes=1000, max_age=3600)) == ["ancient"]
    # Size: 130 left after the ancient one, 70 allowed: the two least recently used go.
    assert names(choose(entries, now=now, max_bytes=70, max_age=3600)) == [
        "ancient",
        "old",
        "older",
    ]
    # One of them being served: the next least recently used goes instead.
    busy = {Path("/cache/older")}
    assert names(choose(entries, now=now, max_bytes=70, max_age=3600, busy=busy)) == [
        "ancient",
        "old",
        "recent",
    ]
    # Nothing can go but what is not busy or fresh, however small the limit.
    assert names(choose(entries, now=now, max_bytes=0, max_age=1, busy=busy)) == [
        "ancient",
        "old",
        "recent",
    ]


def test_prune_on_disk_keeps_what_is_served(tmp_path: Path) -> None:
    copies, bucket = tmp_path / "copies", tmp_path / "bucket"
    copies.mkdir()
    now = time.time()
    for i, age in enumerate((4000, 3000, 200)):
        f = copies / f"{i}.wav"
        f.write_bytes(b"x" * 1000)
        os.utime(f, (now - age, now - age))
    version = bucket / "ab" / "abcd" / "v1"
    version.mkdir(parents=True)
    (version / "x.wav").write_bytes(b"y" * 5000)
    os.utime(version, (now - 5000, now - 5000))
    serving = ServingFiles()
    release = serving.acquire(copies / "0.wav")
    with serving.serving(version / "x.wav"):
        pruned = cache.prune(copies, bucket, now=now, max_bytes=7000, max_age=3600, serving=serving)
        # 8000 bytes, 7000 allowed: 0 (old, served) and the bucket's older copy (served)
        # stay, so 1 goes, the least recently used of the rest.
        assert sorted(p.name for p in copies.iterdir()) == ["0.wav", "2.wav"]
        assert version.exists()
        assert pruned.deleted == 1 and pruned.freed_bytes == 1000
    release()
    pruned = cache.prune(copies, bucket, now=now, max_bytes=7000, max_age=3600, serving=serving)
    assert sorted(p.name for p in copies.iterdir()) == ["2.wav"]
    assert not (bucket / "ab").exists()  # the emptied folders go too
    assert pruned.deleted == 2
