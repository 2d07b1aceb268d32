"""Recordings over HTTP: metadata, the audio (HTTP Range, so the browser's player can seek),
legal hold, the audit trail, and the upload endpoint a PBX on another host pushes to."""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse

from app.audit.service import AuditService
from app.db import unit_of_work
from app.deps import (
    AgentUser,
    PbxCaller,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
    SupervisorUser,
)
from app.errors import Conflict, DomainError, NotFound
from app.models import Recording
from app.schemas import DbId
from recordings import media
from recordings.schemas import AuditRead, HoldRequest, RecordingBrief, RecordingRead, UploadResult
from recordings.service import RecordingService, storage_for
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


@router.get(
    "/api/recordings/{recording_id}/audio",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}, "audio/mpeg": {}, "audio/ogg": {}}},
        206: {"description": "the requested byte range (`Range: bytes=...`)"},
        404: {
            "description": "no such recording, not yours, or not available (pending, "
            "missing, deleted): the error's message says which"
        },
        416: {"description": "the range is outside the file"},
        503: {"description": "the recordings' storage (a bucket) cannot be reached"},
    },
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
    service = RecordingService(session, settings)
    recording, _call = await service.for_user(user, recording_id)
    if recording.state != "available":
        why = {
            "pending": "the recording has not arrived from the PBX yet",
            "missing": "the recording never arrived from the PBX",
            "empty": "nothing was recorded: the file has no sound",
            "deleted": "the recording was deleted (retention)",
        }.get(recording.state, "the recording is not available")
        raise RecordingNotAvailable(why)
    storage = storage_for(settings)
    try:
        path = await asyncio.to_thread(storage.local_path, recording.relative_path)
    except UnsafePath as exc:
        raise NotFound("the recording's file is not where it should be") from exc
    except FileNotFoundError as exc:
        raise RecordingNotAvailable("the recording's file is gone from the storage") from exc
    except StorageUnavailable as exc:
        logger.warning("recordings: storage unavailable: %s", exc)
        raise StorageDown("the recordings' storage cannot be reached") from exc
    name = PurePosixPath(recording.relative_path).name
    content_type = recording.content_type or "application/octet-stream"
    if download:
        await service.audit(user, recording, "download", _client(request))
        await AuditService(session).record(
            "recording_download", user, address=_client(request), target=f"recording:{recording.id}"
        )
        return FileResponse(path, media_type=content_type, filename=name)
    if not _playable(recording):
        cache = settings.data_dir / "recordings-cache"
        path = await asyncio.to_thread(
            media.browser_copy, path, cache, f"{recording.id}-{recording.sha256[:16]}"
        )
        content_type = "audio/wav"
        name = PurePosixPath(name).with_suffix(".wav").name
    ranged = request.headers.get("range", "")
    if not ranged or ranged.replace(" ", "").startswith("bytes=0-"):
        await service.audit(user, recording, "listen", _client(request))
        await AuditService(session).record(
            "recording_listen", user, address=_client(request), target=f"recording:{recording.id}"
        )
    return FileResponse(
        path, media_type=content_type, filename=name, content_disposition_type="inline"
    )


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
