"""Recordings: attached to calls as the PBX names them, found in storage, described, played
by the people allowed to hear them (every listen and download audited), kept or deleted.

Discovery, in the order Asterisk tells: the ``MIXMONITOR_FILENAME`` variable on the call's
channels (the tracker collects it), the ``Cdr`` event's ``recordingfile``/``UserField``
(after the call), and, when the PBX named nothing, configured file-name patterns. A file
that has not arrived yet (the PBX writes it until the call ends; a sync or an upload may be
late) is looked for again with growing waits, then shown as missing. A ``MixMonitorStop``
(``StopMixMonitor``, the call may go on) says the file is whole: it is looked for at once and
described without waiting for the call to end or the file to settle.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import InvalidInput, NotFound
from app.integrations import events as ev
from app.integrations.service import emit
from app.models import Call, Recording, RecordingAudit, Role, User
from recordings import media
from recordings.repository import RecordingRepository
from recordings.storage import FileInfo, LocalStorage, Storage, UnsafePath
from telephony.model import CallSnapshot, RecordingNote

logger = logging.getLogger(__name__)

FIRST_WAIT = 10.0
LONGEST_WAIT = 3600.0
# A file still growing (modified this recently) is not described yet.
SETTLE_SECONDS = 2.0


def wait_after(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_WAIT * 2 ** max(0, attempts - 1), LONGEST_WAIT))


# What MixMonitorStart/Stop say about a channel's recording (telephony.listener).
_MIXMONITOR = ("start", "stop")


def whole_since(recording: Recording) -> datetime | None:
    """When the PBX said this pending recording's file is whole (its MixMonitor was
    stopped), or None. Kept in ``available_at``, which means nothing else until the file is
    described (and is then overwritten with that time)."""
    return recording.available_at if recording.state == "pending" else None


def is_empty(described: media.Media) -> bool:
    """A file with no sound in it: nothing at all, or a header without a single frame."""
    return described.size == 0 or described.duration_seconds == 0


@dataclass(frozen=True)
class Checked:
    available: int = 0
    missing: int = 0
    waiting: int = 0


def browser_copies_dir(settings: Settings) -> Path:
    """Where recordings converted for browsers are kept."""
    return settings.data_dir / "recordings-cache"


def bucket_copies_dir(settings: Settings) -> Path:
    """Where a bucket's recordings are downloaded to be served."""
    return settings.data_dir / "recordings-s3-cache"


def storage_for(settings: Settings) -> Storage:
    """The recordings' storage: the bucket when ``recordings_s3_bucket`` is set, else the
    local root."""
    prefixes = tuple(
        sorted({p.spool_prefix for p in settings.pbxes} | {"/var/spool/asterisk/monitor/"})
    )
    if settings.recordings_s3_bucket:
        return _bucket(
            settings.recordings_s3_bucket,
            settings.recordings_s3_prefix,
            settings.recordings_s3_endpoint_url,
            settings.recordings_s3_region,
            bucket_copies_dir(settings),
            prefixes,
        )
    return LocalStorage(settings.recordings_dir, prefixes)


@functools.lru_cache(maxsize=8)
def _bucket(
    bucket: str,
    prefix: str,
    endpoint_url: str | None,
    region: str | None,
    cache_dir: Path,
    spool_prefixes: tuple[str, ...],
) -> Storage:
    # One per configuration, kept: a boto3 client is costly to make and safe to share.
    try:
        from recordings.s3 import S3Storage
    except ImportError as exc:
        raise RuntimeError(
            "TAMAS_RECORDINGS_S3_BUCKET is set but boto3 is not installed: pip install 'tamas[s3]'"
        ) from exc
    return S3Storage(
        bucket,
        cache_dir,
        prefix=prefix,
        spool_prefixes=spool_prefixes,
        endpoint_url=endpoint_url,
        region=region,
    )


class RecordingService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = RecordingRepository(session)

    # -- discovery (inside the listener's transaction) -------------------------------------

    async def attach(
        self,
        calls: Iterable[CallSnapshot],
        call_ids: dict[tuple[str, str], int],
        notes: Sequence[RecordingNote] = (),
    ) -> None:
        marks = [n for n in notes if n.source in _MIXMONITOR]
        notes = [n for n in notes if n.source not in _MIXMONITOR]
        rows: list[dict[str, Any]] = []
        for call in calls:
            call_id = call_ids.get((call.pbx, call.linkedid))
            if call_id is None:
                continue
            for position, path in enumerate(call.recordings):
                rows.append(_row(call_id, call.pbx, path, "mixmonitor", position))
            if (
                not call.recordings
                and call.ended_at is not None
                and self.settings.recording_patterns
            ):
                # Nothing named: look for it by the configured file-name patterns.
                rows.append(_row(call_id, call.pbx, "", "pattern", 0))
        if notes:
            # The channels' calls and where each call's next recording goes: one statement.
            found = await self.repo.channel_calls([(n.pbx, n.uniqueid) for n in notes])
            positions = {call_id: position for call_id, position in found.values()}
            for note in notes:
                call_id = found.get((note.pbx, note.uniqueid), (None, 0))[0]
                if call_id is None:
                    logger.info("PBX %s: a CDR names a recording of an unknown channel", note.pbx)
                    continue
                position = positions.get(call_id, 0)
                positions[call_id] = position + 1
                rows.append(_row(call_id, note.pbx, note.path, note.source, position))
        await self.repo.add_many(rows)
        if marks:
            await self._mixmonitor(marks)

    async def _mixmonitor(self, notes: Sequence[RecordingNote]) -> None:
        """MixMonitor stopped on a channel: its file is whole, look for it now. Started
        (again, appending): it is not whole any more. In the PBX's order."""
        found = await self.repo.calls_of_channels([(n.pbx, n.uniqueid) for n in notes])
        now = datetime.now(UTC)
        for note in notes:
            call_id = found.get((note.pbx, note.uniqueid))
            if call_id is None:
                continue  # a channel of no call Tamas keeps (or not stored yet)
            if note.source == "stop":
                at = datetime.fromtimestamp(note.at, UTC)
                await self.repo.mixmonitor_stopped(call_id, note.path, now, at)
            else:
                again = await self.repo.mixmonitor_started(call_id, note.path, now)
                if again:
                    logger.info("recordings %s: recorded again, no longer whole", again)

    # -- finding the files ------------------------------------------------------------------

    async def check_due(self, storage: Storage, limit: int = 50) -> Checked:
        """Look for the pending recordings whose time has come (claimed by this instance)."""
        now = datetime.now(UTC)
        available = missing = waiting = 0
        claimed = await self.repo.claim_due(now, limit)
        located = [(r, c, await self._locate(storage, r, c)) for r, c in claimed]
        # One trip to a worker thread for the whole chunk, not one per file.
        infos = await asyncio.to_thread(_stat_all, storage, [rel for _, _, rel in located])
        for (recording, call, relative), info in zip(located, infos, strict=True):
            state = await self._check(storage, recording, call, now, relative, info)
            available += state == "available"
            missing += state == "missing"
            waiting += state == "pending"
        await self.session.flush()
        return Checked(available, missing, waiting)

    async def _check(
        self,
        storage: Storage,
        recording: Recording,
        call: Call,
        now: datetime,
        relative: str,
        info: FileInfo | None,
    ) -> str:
        if info is None:
            relative = ""
        # Still being written: the call is up, or the file changed a moment ago; unless the
        # PBX said it is whole (its MixMonitor stopped).
        growing = (
            info is not None
            and whole_since(recording) is None
            and (call.ended_at is None or (now - info.mtime).total_seconds() < SETTLE_SECONDS)
        )
        if info is not None and not growing:
            await self._describe(storage, recording, relative, now)
            return recording.state
        # Set here, not by the column's SQL ``now()``: a row whose update carries an SQL
        # expression is written with a statement of its own, one with plain values goes
        # with the rest of the chunk in one executemany (50 statements a chunk before).
        recording.updated_at = now
        if not growing:
            recording.attempts += 1
        if recording.attempts >= self.settings.recording_attempts:
            if recording.source == "pattern":
                await self.session.delete(recording)  # nothing was named: nothing is missing
            else:
                recording.state = "missing"
                recording.next_check_at = None
                logger.warning(
                    "recording %s of call %s never arrived: %s",
                    recording.id,
                    recording.call_id,
                    recording.reported_path,
                )
            return "missing"
        recording.next_check_at = now + wait_after(max(1, recording.attempts))
        return "pending"

    async def _describe(
        self, storage: Storage, recording: Recording, relative: str, now: datetime
    ) -> None:
        was_available = recording.state == "available"
        path = await asyncio.to_thread(storage.local_path, relative)
        described = await asyncio.to_thread(media.probe, path)
        recording.relative_path = relative
        if recording.source == "pattern":
            recording.reported_path = relative
        # MixMonitor writes a file for a call whose customer leg never got audio (no answer,
        # busy): a WAV header and nothing after it. Not a recording anyone can play.
        recording.state = "empty" if is_empty(described) else "available"
        recording.available_at = now
        recording.next_check_at = None
        recording.size = described.size
        recording.sha256 = described.sha256
        recording.duration_seconds = described.duration_seconds
        recording.format = described.format[:16]
        recording.codec = described.codec[:32]
        recording.content_type = described.content_type[:64]
        await self.session.flush()
        if not was_available:
            await emit(self.session, [ev.envelope(ev.RECORDING_READY, recording_data(recording))])

    async def _locate(self, storage: Storage, recording: Recording, call: Call) -> str:
        if recording.relative_path:
            return recording.relative_path
        if recording.reported_path and recording.source != "pattern":
            try:
                return storage.relative(recording.reported_path)
            except UnsafePath as exc:
                logger.warning("recording %s: refused path: %s", recording.id, exc)
                return ""
        # The PBX names dated folders by its own clock: the call's day, the days around it
        # (a call across midnight, a PBX in another time zone) are all tried.
        days = sorted(
            {(call.started_at + timedelta(days=k)).date() for k in (-1, 0, 1)}
            | ({call.ended_at.date()} if call.ended_at else set())
        )
        uniqueids = dict.fromkeys([call.linkedid, *await self.repo.leg_uniqueids(call.id)])
        for uniqueid in uniqueids:
            for day in days:
                fields = {
                    "uniqueid": uniqueid,
                    "linkedid": call.linkedid,
                    "Y": f"{day:%Y}",
                    "m": f"{day:%m}",
                    "d": f"{day:%d}",
                }
                found = await asyncio.to_thread(
                    storage.find, self.settings.recording_patterns, fields
                )
                if found:
                    return found[0]
        return ""

    async def uploaded(self, storage: Storage, pbx: str, relative: str) -> int:
        """A file the PBX pushed (complete: it was stored whole): the recordings naming it
        are described at once. One pushed before its call was stored is found by the
        regular check."""
        name = relative.rsplit("/", 1)[-1]
        now = datetime.now(UTC)
        matches = await self.repo.by_file_name(pbx, name)
        for recording in matches:
            await self._describe(storage, recording, relative, now)
            await self.audit(None, recording, "upload", detail=f"pushed by PBX {pbx}")
        return len(matches)

    # -- access -----------------------------------------------------------------------------

    async def for_user(self, user: User, recording_id: int) -> tuple[Recording, Call]:
        """The recording, if this user may hear it: agents those of their own calls,
        supervisors and admins all. Anything else is "not found"."""
        found = await self.repo.get(recording_id)
        if found is None:
            raise NotFound("no such recording")
        recording, call = found
        if user.role == Role.agent.value and not await self._involved(user, call):
            raise NotFound("no such recording")
        return recording, call

    async def playable_by(self, user: User, call_ids: Sequence[int]) -> dict[int, list[Recording]]:
        """The recordings of these calls this user may play, by call."""
        found = await self.repo.of_calls(call_ids)
        if user.role != Role.agent.value:
            return found
        mine = await self.repo.calls_with_user(call_ids, user.id)
        return {c: (rows if c in mine else []) for c, rows in found.items()}

    async def call_for_user(self, user: User, call_id: int) -> Call:
        call = await self.session.get(Call, call_id)
        if call is None or (user.role == Role.agent.value and not await self._involved(user, call)):
            raise NotFound(f"call {call_id} not found")
        return call

    async def _involved(self, user: User, call: Call) -> bool:
        return call.answered_by_user_id == user.id or await self.repo.on_call(user.id, call.id)

    async def audit(
        self,
        user: User | None,
        recording: Recording,
        action: str,
        client: str = "",
        detail: str = "",
    ) -> None:
        await self.repo.audit(
            RecordingAudit(
                recording_id=recording.id,
                user_id=user.id if user else None,
                action=action,
                client=client[:64],
                detail=detail,
            )
        )

    async def set_hold(
        self, user: User, recording_id: int, hold: bool, client: str = ""
    ) -> Recording:
        recording, _ = await self.for_user(user, recording_id)
        if recording.state == "deleted":
            raise InvalidInput("the recording was already deleted")
        recording.legal_hold = hold
        await self.audit(user, recording, "hold" if hold else "release", client)
        await self.session.flush()
        return recording

    # -- retention --------------------------------------------------------------------------

    def cutoffs(self, now: datetime) -> list[tuple[str | None, datetime]]:
        out: list[tuple[str | None, datetime]] = [
            (queue, now - timedelta(days=days))
            for queue, days in self.settings.recording_retention_by_queue.items()
            if days > 0
        ]
        if self.settings.recording_retention_days > 0:
            out.append((None, now - timedelta(days=self.settings.recording_retention_days)))
        return out

    async def purge(
        self, storage: Storage, limit: int = 500, *, dry_run: bool = False
    ) -> list[int]:
        """Delete the files of recordings past their retention (not on legal hold); each
        deletion is audited. Returns the ids deleted (or that would be)."""
        now = datetime.now(UTC)
        cutoffs = self.cutoffs(now)
        # A queue kept for ever (0 days) is not covered by the default either.
        kept = [q for q, d in self.settings.recording_retention_by_queue.items() if d <= 0]
        cutoffs += [(q, datetime.min.replace(tzinfo=UTC)) for q in kept]
        done: list[int] = []
        for recording, _call in await self.repo.expired(cutoffs, limit):
            done.append(recording.id)
            if dry_run:
                continue
            if recording.relative_path:
                try:
                    await asyncio.to_thread(storage.delete, recording.relative_path)
                except (UnsafePath, OSError) as exc:
                    logger.warning(
                        "retention: could not delete recording %s: %s", recording.id, exc
                    )
                    continue
            recording.state = "deleted"
            recording.deleted_at = now
            recording.next_check_at = None
            await self.audit(None, recording, "delete", detail="retention")
        await self.session.flush()
        return done


def recording_data(recording: Recording) -> dict[str, Any]:
    """A recording as the integrations' ``recording.ready`` carries it."""
    return {
        "recording_id": recording.id,
        "call_id": recording.call_id,
        "pbx": recording.pbx,
        "position": recording.position,
        "source": recording.source,
        "duration_seconds": recording.duration_seconds,
        "size": recording.size,
        "format": recording.format,
        "codec": recording.codec,
        "content_type": recording.content_type,
        "sha256": recording.sha256,
        # With a supervisor's or admin's token (agents: their own calls' only).
        "audio_url": f"/api/recordings/{recording.id}/audio",
    }


def _stat_all(storage: Storage, relatives: Sequence[str]) -> list[FileInfo | None]:
    out: list[FileInfo | None] = []
    for relative in relatives:
        info = None
        if relative:
            try:
                info = storage.stat(relative)
            except UnsafePath as exc:
                logger.warning("refused recording path %r: %s", relative, exc)
        out.append(info)
    return out


def _row(call_id: int, pbx: str, path: str, source: str, position: int) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "pbx": pbx,
        "reported_path": path,
        "source": source,
        "position": position,
    }
