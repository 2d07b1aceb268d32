"""Recordings in an S3-compatible bucket (moto's in-process S3 at a custom endpoint, as MinIO
or ArvanCloud would be): keys under the prefix and nowhere else, finding, describing, playing
with HTTP Range from the local copy, uploads from the PBX, retention."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import soundfile
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Recording
from recordings import cache, service
from recordings.service import RecordingService, storage_for
from recordings.storage import FileConflict, StorageUnavailable, TooLarge, UnsafePath
from tests.recordings.support import (
    PBX,
    TRACE_FILE,
    UPLOAD_TOKEN,
    bearer,
    check,
    record,
    team,
    tone_bytes,
)

boto3 = pytest.importorskip("boto3", reason="the s3 extra is not installed")
moto = pytest.importorskip("moto", reason="moto (a dev dependency) is not installed")

from botocore.exceptions import ClientError  # noqa: E402  (after the skips)

from recordings.s3 import S3Storage  # noqa: E402

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "tamas-recordings"
PREFIX = "pbx-main"
ENDPOINT = "http://s3.tamas.test"
MONITOR = "/var/spool/asterisk/monitor"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Client]:
    """An empty bucket at a custom endpoint; nothing from this host's AWS configuration."""
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", ENDPOINT)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=ENDPOINT)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def bucket(s3: S3Client, tmp_path: Path) -> S3Storage:
    return S3Storage(
        BUCKET, tmp_path / "cache", prefix=PREFIX, endpoint_url=ENDPOINT, region="us-east-1"
    )


def put(s3: S3Client, key: str, body: bytes, **extra: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def keys(s3: S3Client) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


# -- the storage itself ------------------------------------------------------------------


def test_found_and_missing(s3: S3Client, bucket: S3Storage) -> None:
    rel = bucket.relative(f"{MONITOR}/2026/11/22/in-100-1795345220.0.wav")
    assert rel == "2026/11/22/in-100-1795345220.0.wav"
    assert bucket.stat(rel) is None
    put(s3, f"{PREFIX}/{rel}", b"RIFF1234")
    info = bucket.stat(rel)
    assert info is not None and (info.path, info.size) == (rel, 8)
    assert info.mtime.tzinfo is not None
    # The same name without the prefix is another object: not ours.
    put(s3, "elsewhere.wav", b"x")
    assert bucket.stat("elsewhere.wav") is None


@pytest.mark.parametrize(
    "name",
    [
        "../secret.wav",
        "2026/../../secret.wav",
        "/etc/passwd",
        "%2e%2e/secret.wav",
        "..%2fsecret.wav",
        ".hidden.wav",
        "a\\..\\b.wav",
        "．．/secret.wav",
        "a/\x00b.wav",
        "",
    ],
)
async def test_keys_that_would_leave_the_prefix_are_refused(
    s3: S3Client, bucket: S3Storage, name: str
) -> None:
    put(s3, "secret.wav", b"secret")
    for call in (bucket.stat, bucket.local_path, bucket.delete, bucket.key):
        with pytest.raises(UnsafePath):
            call(name)
    with pytest.raises(UnsafePath):
        await bucket.save(name, stream(b"x"), 10)
    assert keys(s3) == ["secret.wav"]


def test_a_prefix_must_be_a_plain_folder(s3: S3Client, tmp_path: Path) -> None:
    for prefix in ("../up", "a/../../b", ".hidden", "a/%2e%2e"):
        with pytest.raises(UnsafePath):
            S3Storage(BUCKET, tmp_path, prefix=prefix, endpoint_url=ENDPOINT)
    assert S3Storage(BUCKET, tmp_path, prefix="/a//b/", endpoint_url=ENDPOINT).key("x") == "a/b/x"
    assert S3Storage(BUCKET, tmp_path, endpoint_url=ENDPOINT).key("x") == "x"


def test_find_by_patterns_lists_only_under_the_prefix(s3: S3Client, bucket: S3Storage) -> None:
    uid = "1795345220.0"
    for key in (
        f"{PREFIX}/2026/11/22/in-100-0912-20261122-110020-{uid}.wav",
        f"{PREFIX}/2026/11/21/in-100-0912-20261121-110020-{uid}.wav",  # another day
        f"{PREFIX}/out-100-{uid}.WAV",
        f"{PREFIX}/.out-100-{uid}.wav",  # hidden
        f"{PREFIX}/2026/q-500-{uid}.wav",  # a level too deep for the flat pattern
        f"{PREFIX}/in-100-1795345220.01.wav",  # another channel
        f"other/in-100-{uid}.wav",  # outside the prefix
        f"{PREFIX}-2/in-100-{uid}.wav",  # a neighbour prefix
    ):
        put(s3, key, b"x")
    patterns = ["{Y}/{m}/{d}/*-{uniqueid}.*", "*-{uniqueid}.*"]
    fields = {"uniqueid": uid, "Y": "2026", "m": "11", "d": "22"}
    assert bucket.find(patterns, fields) == [
        f"2026/11/22/in-100-0912-20261122-110020-{uid}.wav",
        f"out-100-{uid}.WAV",
    ]
    assert bucket.find(patterns, fields, limit=1) == [
        f"2026/11/22/in-100-0912-20261122-110020-{uid}.wav"
    ]
    # A field naming a folder, or a pattern climbing out, is refused; a value with glob
    # characters matches only itself.
    with pytest.raises(UnsafePath):
        bucket.find(patterns, {**fields, "uniqueid": "../x"})
    with pytest.raises(UnsafePath):
        bucket.find(["../*-{uniqueid}.*"], fields)
    put(s3, f"{PREFIX}/star-*.wav", b"x")
    assert bucket.find(["star-{uniqueid}.wav"], {"uniqueid": "*"}) == ["star-*.wav"]
    assert bucket.find(["*-{uniqueid}.wav"], {"uniqueid": "?"}) == []
    # A pattern with a field this caller does not know is skipped.
    assert bucket.find(["{linkedid}-*.wav"], {"uniqueid": uid}) == []


async def test_uploads_are_whole_and_never_overwrite(s3: S3Client, bucket: S3Storage) -> None:
    body = tone_bytes(0.5)
    info = await bucket.save("2026/x.wav", stream(body[:100], body[100:]), len(body))
    assert (info.path, info.size, info.sha256) == (
        "2026/x.wav",
        len(body),
        hashlib.sha256(body).hexdigest(),
    )
    stored = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/2026/x.wav")
    assert stored["Body"].read() == body
    assert stored["Metadata"] == {"sha256": info.sha256}
    # The same again (a PBX retrying): accepted. Other content: refused, the first kept.
    again = await bucket.save("2026/x.wav", stream(body), len(body))
    assert again.sha256 == info.sha256
    with pytest.raises(FileConflict):
        await bucket.save("2026/x.wav", stream(body[:-1] + b"!"), len(body))
    # An object put there by something else (no sha256 of ours) is compared by its bytes.
    put(s3, f"{PREFIX}/synced.wav", body)
    assert (await bucket.save("synced.wav", stream(body), len(body))).size == len(body)
    with pytest.raises(FileConflict):
        await bucket.save("synced.wav", stream(body[::-1]), len(body))
    # Too big: nothing stored.
    with pytest.raises(TooLarge):
        await bucket.save("big.wav", stream(b"x" * 600, b"x" * 600), 1000)
    assert keys(s3) == [f"{PREFIX}/2026/x.wav", f"{PREFIX}/synced.wav"]
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/2026/x.wav")["Body"].read() == body


def test_a_local_copy_is_downloaded_once_and_follows_the_object(
    s3: S3Client, bucket: S3Storage, tmp_path: Path
) -> None:
    key = f"{PREFIX}/2026/11/22/a.gsm"
    put(s3, key, b"first")
    path = bucket.local_path("2026/11/22/a.gsm")
    assert path.read_bytes() == b"first"
    assert path.name == "a.gsm"  # the suffix tells raw GSM from the rest
    assert path.is_relative_to(tmp_path / "cache")
    gets = 0
    original = bucket.client.get_object

    def counting(**kwargs: Any) -> Any:
        nonlocal gets
        gets += 1
        return original(**kwargs)

    bucket.client.get_object = counting  # type: ignore[method-assign]
    assert bucket.local_path("2026/11/22/a.gsm") == path
    assert gets == 0  # reused: same ETag and size
    put(s3, key, b"second version")
    fresh = bucket.local_path("2026/11/22/a.gsm")
    assert fresh != path and fresh.read_bytes() == b"second version" and gets == 1
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".part")]
    # Gone from the bucket: no copy is served, however recent.
    s3.delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(FileNotFoundError):
        bucket.local_path("2026/11/22/a.gsm")
    # Copies unused for long are pruned; recent ones stay.
    put(s3, f"{PREFIX}/b.wav", b"b")
    recent = bucket.local_path("b.wav")
    old = time.time() - 3 * 86400
    os.utime(path.parent, (old, old))
    os.utime(fresh.parent, (old, old))
    pruned = cache.prune(
        tmp_path / "no-browser-copies",
        tmp_path / "cache",
        now=time.time(),
        max_bytes=10**9,
        max_age=86400,
        serving=cache.ServingFiles(),
    )
    assert pruned.deleted == 2
    assert not path.exists() and not fresh.exists() and recent.exists()


def test_delete_removes_the_object_and_its_copy(s3: S3Client, bucket: S3Storage) -> None:
    put(s3, f"{PREFIX}/a.wav", b"a")
    copy = bucket.local_path("a.wav")
    bucket.delete("a.wav")
    bucket.delete("a.wav")  # already gone: fine
    assert keys(s3) == [] and not copy.exists()


def test_an_unreachable_or_forbidden_bucket_is_told_apart_from_a_missing_file(
    s3: S3Client, tmp_path: Path
) -> None:
    # A missing bucket is not a missing file (a HEAD answers 404 for both).
    nowhere = S3Storage("no-such-bucket", tmp_path, endpoint_url=ENDPOINT)
    for look in (
        lambda: nowhere.stat("a.wav"),
        lambda: nowhere.local_path("a.wav"),
        lambda: nowhere.find(["*.wav"], {}),
    ):
        with pytest.raises(StorageUnavailable, match="no-such-bucket"):
            look()
    # Credentials that may not read it (S3 says 403 for a missing object, too, without
    # s3:ListBucket).
    bucket = S3Storage(BUCKET, tmp_path, endpoint_url=ENDPOINT)

    def forbidden(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "403"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject"
        )

    bucket.client.head_object = forbidden  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable, match="access denied"):
        bucket.stat("a.wav")


# -- through the service and the API ----------------------------------------------------


@pytest.fixture
def conf(conf: Settings, s3: S3Client, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The recordings' settings of the API tests, with the bucket instead of the root."""
    # moto stamps an object with the time it was put: no waiting for it to settle.
    monkeypatch.setattr(service, "SETTLE_SECONDS", 0.0)
    return conf.model_copy(
        update={
            "recordings_s3_bucket": BUCKET,
            "recordings_s3_prefix": PREFIX,
            "recordings_s3_endpoint_url": ENDPOINT,
            "recordings_s3_region": "us-east-1",
        }
    )


async def test_a_recording_in_the_bucket_is_found_described_and_played_with_ranges(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    s3: S3Client,
) -> None:
    conf = app_conf
    assert isinstance(storage_for(conf), S3Storage)
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    await check(session, conf)  # not in the bucket yet
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    await session.refresh(recording)
    assert (recording.state, recording.attempts) == ("pending", 1)

    data = tone_bytes(1.5)
    put(s3, f"{PREFIX}/{TRACE_FILE}", data)
    await check(session, conf)
    await session.refresh(recording)
    assert recording.state == "available"
    assert recording.relative_path == TRACE_FILE
    assert (recording.size, recording.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert recording.duration_seconds == pytest.approx(1.5, abs=0.01)
    assert (recording.format, recording.codec) == ("wav", "pcm_s16le")

    url = f"/api/recordings/{recording.id}/audio"
    sara = users["sara"][1]
    size = len(data)
    whole = await client.get(url, headers=sara)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    first = await client.get(url, headers={**sara, "Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    middle = await client.get(url, headers={**sara, "Range": "bytes=1000-1999"})
    assert middle.status_code == 206 and middle.content == data[1000:2000]
    suffix = await client.get(url, headers={**sara, "Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.content == data[-500:]
    beyond = await client.get(url, headers={**sara, "Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert (await client.get(url, headers=users["reza"][1])).status_code == 404

    # Gone from the bucket behind Tamas's back: told, not a 500.
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{TRACE_FILE}")
    gone = await client.get(url, headers=sara)
    assert gone.status_code == 404 and "gone" in gone.json()["error"]["message"]


async def test_gsm_from_the_bucket_is_converted_for_listening(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    s3: S3Client,
) -> None:
    conf = app_conf
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    stored = tone_bytes(1.0, subtype="GSM610")  # MixMonitor's wav49
    put(s3, f"{PREFIX}/{TRACE_FILE}", stored)
    await check(session, conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    await session.refresh(recording)
    assert recording.codec == "gsm"
    played = await client.get(f"/api/recordings/{recording.id}/audio", headers=users["boss"][1])
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    assert soundfile.info(io.BytesIO(played.content)).subtype == "PCM_16"
    download = await client.get(
        f"/api/recordings/{recording.id}/audio?download=true", headers=users["boss"][1]
    )
    assert download.content == stored


async def test_the_pbx_pushes_into_the_bucket_and_retention_deletes_from_it(
    app: FastAPI,
    session: AsyncSession,
    app_conf: Settings,
    client: httpx.AsyncClient,
    s3: S3Client,
) -> None:
    conf = app_conf
    users = await team(session, conf)
    await record(app, conf, "01_direct_answered")
    body = tone_bytes(1.0)
    url = f"/pbx/recordings?pbx={PBX}&name={MONITOR}/{TRACE_FILE}"
    r = await client.post(url, content=body, headers=bearer(UPLOAD_TOKEN))
    assert r.status_code == 201, r.text
    assert r.json() == {"stored_as": TRACE_FILE, "size": len(body), "recordings": 1}
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{TRACE_FILE}")["Body"].read() == body
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    await session.refresh(recording)
    assert recording.state == "available"
    assert recording.sha256 == hashlib.sha256(body).hexdigest()
    # Names leading out of the prefix are refused, and nothing is stored for them.
    for bad in ("../../etc/passwd", "%2e%2e/x.wav", ".hidden.wav"):
        r = await client.post(
            f"/pbx/recordings?pbx={PBX}&name={bad}", content=body, headers=bearer(UPLOAD_TOKEN)
        )
        assert r.status_code in (400, 422), bad
    assert keys(s3) == [f"{PREFIX}/{TRACE_FILE}"]
    played = await client.get(f"/api/recordings/{recording.id}/audio", headers=users["boss"][1])
    assert played.content == body

    await session.execute(update(Call).values(started_at=datetime.now(UTC) - timedelta(days=40)))
    kept = conf.model_copy(update={"recording_retention_days": 30})
    assert await RecordingService(session, kept).purge(storage_for(kept)) == [recording.id]
    await session.refresh(recording)
    assert recording.state == "deleted"
    assert keys(s3) == []
    assert not [p for p in (conf.data_dir / "recordings-s3-cache").rglob("*") if p.is_file()]
