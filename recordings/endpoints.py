"""Recordings over HTTP: metadata, the audio (HTTP Range, so the browser's player can seek;
at a short-lived signed address for the player's <audio src>), legal hold, the audit trail,
and the upload endpoint a PBX on another host pushes to."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from app.audit.service import AuditService
from app.config import Settings
from app.db import unit_of_work
from app.deps import (
    AgentUser,
    PbxCaller,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
    SupervisorUser,
)
from app.errors import Conflict, DomainError, NotFound, PermissionDenied
from app.models import Recording, User
from app.schemas import DbId
from recordings import media, signing
from recordings.cache import ServingFiles
from recordings.schemas import (
    AuditRead,
    HoldRequest,
    RecordingBrief,
    RecordingRead,
    StreamUrl,
    UploadResult,
)
from recordings.service import RecordingService, browser_copies_dir, storage_for
from recordings.storage import FileConflict, StorageUnavailable, UnsafePath
from recordings.storage import TooLarge as StorageTooLarge

logger = logging.getLogger(__name__)

router = APIRouter(tags=["recordings"])


class RecordingNotAvailable(DomainError):
    status_code = 404
    code = "recording_not_available"


class TooLarge(DomainError):
    status_code = 413
    code = "too_large"


class StorageDown(DomainError):
    status_code = 503
    code = "storage_unavailable"


def _read(recording: Recording) -> RecordingRead:
    name = PurePosixPath(recording.relative_path or recording.reported_path).name
    return RecordingRead(
        id=recording.id,
        position=recording.position,
        state=recording.state,
        duration_seconds=recording.duration_seconds,
        content_type=recording.content_type,
        legal_hold=recording.legal_hold,
        call_id=recording.call_id,
        pbx=recording.pbx,
        source=recording.source,
        file_name=name,
        size=recording.size,
        format=recording.format,
        codec=recording.codec,
        sha256=recording.sha256,
        attempts=recording.attempts,
        available_at=recording.available_at if recording.state != "pending" else None,
        deleted_at=recording.deleted_at,
        created_at=recording.created_at,
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/api/calls/{call_id}/recordings", response_model=list[RecordingBrief])
async def call_recordings(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[RecordingBrief]:
    """A call's recordings in order. Agents see those of their own calls."""
    service = RecordingService(session, settings)
    await service.call_for_user(user, call_id)
    found = await service.repo.of_calls([call_id])
    return [RecordingBrief.model_validate(r) for r in found[call_id]]


@router.get("/api/recordings/{recording_id}", response_model=RecordingRead)
async def get_recording(
    recording_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> RecordingRead:
    """What a recording is: state, size, duration, format, sha256, legal hold."""
    recording, _ = await RecordingService(session, settings).for_user(user, recording_id)
    return _read(recording)


_AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/wav": {}, "audio/mpeg": {}, "audio/ogg": {}}},
    206: {"description": "the requested byte range (`Range: bytes=...`)"},
    404: {
        "description": "no such recording, not yours, or not available (pending, "
        "missing, deleted): the error's message says which"
    },
    416: {"description": "the range is outside the file"},
    503: {"description": "the recordings' storage (a bucket) cannot be reached"},
}


class _ServedFile(FileResponse):
    """A file response that tells the cache's pruner when it is done with the file."""

    def __init__(self, *args: Any, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _serving(request: Request) -> ServingFiles:
    serving: ServingFiles = request.app.state.serving_files
    return serving


def _available(recording: Recording) -> None:
    if recording.state != "available":
        why = {
            "pending": "the recording has not arrived from the PBX yet",
            "missing": "the recording never arrived from the PBX",
            "empty": "nothing was recorded: the file has no sound",
            "deleted": "the recording was deleted (retention)",
        }.get(recording.state, "the recording is not available")
        raise RecordingNotAvailable(why)


async def _file(
    settings: Settings, recording: Recording, serving: ServingFiles, *, as_stored: bool
) -> tuple[Path, Callable[[], None]]:
    """The file to send (as stored, or a copy a browser plays) and the call that says it is
    sent. Held as served before it is checked to be there: the pruner never deletes it
    from now on, and one deleted just before is made (downloaded, converted) again."""
    storage = storage_for(settings)
    for _ in range(3):
        try:
            path = await asyncio.to_thread(storage.local_path, recording.relative_path)
            if not as_stored and not _playable(recording):
                path = await asyncio.to_thread(
                    media.browser_copy,
                    path,
                    browser_copies_dir(settings),
                    f"{recording.id}-{recording.sha256[:16]}",
                )
        except UnsafePath as exc:
            raise NotFound("the recording's file is not where it should be") from exc
        except FileNotFoundError as exc:
            raise RecordingNotAvailable("the recording's file is gone from the storage") from exc
        except StorageUnavailable as exc:
            logger.warning("recordings: storage unavailable: %s", exc)
            raise StorageDown("the recordings' storage cannot be reached") from exc
        release = serving.acquire(path)
        try:
            if path.is_relative_to(browser_copies_dir(settings)):
                await asyncio.to_thread(os.utime, path)  # used now: pruned last
            return path, release
        except FileNotFoundError:
            release()  # pruned between the two: made again
    raise StorageDown("the recording's local copy keeps disappearing")


async def _serve(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: User,
    recording: Recording,
    *,
    download: bool,
) -> FileResponse:
    _available(recording)
    service = RecordingService(session, settings)
    path, release = await _file(settings, recording, _serving(request), as_stored=download)
    try:
        name = PurePosixPath(recording.relative_path).name
        content_type = recording.content_type or "application/octet-stream"
        if download:
            await service.audit(user, recording, "download", _client(request))
            await AuditService(session).record(
                "recording_download",
                user,
                address=_client(request),
                target=f"recording:{recording.id}",
            )
            return _ServedFile(path, media_type=content_type, filename=name, release=release)
        if not _playable(recording):
            content_type = "audio/wav"
            name = PurePosixPath(name).with_suffix(".wav").name
        ranged = request.headers.get("range", "")
        if not ranged or ranged.replace(" ", "").startswith("bytes=0-"):
            await service.audit(user, recording, "listen", _client(request))
            await AuditService(session).record(
                "recording_listen",
                user,
                address=_client(request),
                target=f"recording:{recording.id}",
            )
        return _ServedFile(
            path,
            media_type=content_type,
            filename=name,
            content_disposition_type="inline",
            release=release,
        )
    except BaseException:
        release()
        raise


@router.get(
    "/api/recordings/{recording_id}/audio", response_class=FileResponse, responses=_AUDIO_RESPONSES
)
async def recording_audio(
    request: Request,
    recording_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    download: Annotated[bool, Query(description="as an attachment, in its stored format")] = False,
) -> FileResponse:
    """The audio, with HTTP Range (206 with `Content-Range`, 416 outside the file) so the
    player can seek. Formats a browser cannot play (GSM, µ-law WAV) are converted to PCM WAV
    for listening; `download=true` gives the file as stored. Every listen (a request from
    the start of the file) and every download is written to the audit log."""
    recording, _call = await RecordingService(session, settings).for_user(user, recording_id)
    return await _serve(request, session, settings, user, recording, download=download)


@router.get("/api/recordings/{recording_id}/stream-url", response_model=StreamUrl)
async def recording_stream_url(
    recording_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> StreamUrl:
    """A short-lived signed address of the audio for a browser's `<audio src>` (which cannot
    send the token): good `TAMAS_RECORDING_URL_TTL_SECONDS`, for this user and this
    recording only; ask again when it has expired."""
    recording, _call = await RecordingService(session, settings).for_user(user, recording_id)
    _available(recording)
    ttl = settings.recording_url_ttl_seconds
    key = settings.secret_key.get_secret_value()
    signature, expires = signing.sign(key, recording.id, user.id, time.time(), ttl)
    query = urlencode({"user": user.id, "expires": expires, "signature": signature})
    return StreamUrl(
        url=f"/api/recordings/{recording.id}/stream?{query}",
        expires_at=datetime.fromtimestamp(expires, UTC),
        expires_in=ttl,
    )


@router.get(
    "/api/recordings/{recording_id}/stream",
    response_class=FileResponse,
    responses={
        **_AUDIO_RESPONSES,
        403: {"description": "the address's signature is not this server's, or it expired"},
    },
)
async def recording_stream(
    request: Request,
    recording_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[DbId, Query(description="from the signed address")],
    expires: Annotated[int, Query(ge=0, le=1 << 40, description="from the signed address")],
    signature: Annotated[
        str, Query(min_length=1, max_length=100, description="from the signed address")
    ],
) -> FileResponse:
    """The audio at a signed address (`GET /api/recordings/{id}/stream-url`), no token
    needed: HTTP Range as `/audio` (206, 416), so the player seeks without downloading the
    whole file. A changed or forged address, or one past its expiry, is refused (403); so is
    one whose user was deactivated or may no longer hear the recording (404). Listens are
    audited as the user the address was given to."""
    key = settings.secret_key.get_secret_value()
    try:
        signing.verify(key, recording_id, user, expires, signature, time.time())
    except signing.BadSignature:
        raise PermissionDenied(
            "this address was not signed by Tamas", code="bad_signature"
        ) from None
    except signing.Expired:
        raise PermissionDenied(
            "this address has expired: ask for a new one", code="expired"
        ) from None
    who = await session.get(User, user)
    if who is None or not who.is_active:
        raise PermissionDenied("the address's user is no longer signed in", code="forbidden")
    recording, _call = await RecordingService(session, settings).for_user(who, recording_id)
    return await _serve(request, session, settings, who, recording, download=False)


def _playable(recording: Recording) -> bool:
    return media.is_browser_playable(recording.format, recording.codec)


@router.put("/api/recordings/{recording_id}/hold", response_model=RecordingRead)
async def hold_recording(
    request: Request,
    recording_id: DbId,
    body: HoldRequest,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
) -> RecordingRead:
    """Legal hold: a held recording is never deleted by retention. Audited."""
    service = RecordingService(session, settings)
    return _read(await service.set_hold(user, recording_id, body.hold, _client(request)))


@router.get("/api/recordings/{recording_id}/audit", response_model=list[AuditRead])
async def recording_audit(
    recording_id: DbId, session: SessionDep, settings: SettingsDep, user: SupervisorUser
) -> list[AuditRead]:
    """Who listened to, downloaded, held or deleted this recording, and when."""
    service = RecordingService(session, settings)
    await service.for_user(user, recording_id)
    return [AuditRead.model_validate(a) for a in await service.repo.audit_trail(recording_id)]


@router.post(
    "/pbx/recordings",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResult,
    tags=["pbx"],
)
async def upload_recording(
    request: Request,
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
    caller: PbxCaller,
    name: Annotated[
        str,
        Query(
            max_length=400,
            description="the file's name or its path on the PBX, as MIXMONITOR_FILENAME gave it",
        ),
    ],
) -> UploadResult:
    """For a PBX on another host: push each finished recording (the raw file as the body),
    authenticated with that PBX's `token` (`Authorization: Bearer ...`). The file is
    stored in the recordings' storage (the root, or the bucket) as it would be in the PBX's
    spool; the recordings that name it are checked at once. Limited to
    `TAMAS_RECORDING_UPLOAD_MAX_MB`."""
    pbx = caller.id
    storage = storage_for(settings)
    limit = settings.recording_upload_max_mb * 1024 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"a recording may be at most {settings.recording_upload_max_mb} MB")
    try:
        relative = storage.relative(name)
        info = await storage.save(relative, request.stream(), limit)
    except UnsafePath as exc:
        raise DomainError(f"refused file name: {exc}", code="invalid") from exc
    except StorageTooLarge as exc:
        raise TooLarge(str(exc)) from exc
    except FileConflict as exc:
        raise Conflict(f"another file is already stored as {name}: {exc}") from exc
    except StorageUnavailable as exc:
        logger.warning("recordings: storage unavailable: %s", exc)
        raise StorageDown("the recordings' storage cannot be reached") from exc
    async with unit_of_work(sessionmaker) as session:
        matched = await RecordingService(session, settings).uploaded(storage, pbx, relative)
    return UploadResult(stored_as=relative, size=info.size, recordings=matched)
