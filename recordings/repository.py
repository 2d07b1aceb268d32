from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import String, Table, and_, bindparam, or_, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallLeg, Recording, RecordingAudit


class RecordingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Recordings named by the PBX; one already known (same call and file) is kept."""
        if not rows:
            return
        await self.session.execute(_add(), list(rows))

    async def calls_of_channels(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """The call of each (pbx, channel uniqueid)."""
        return {key: call_id for key, (call_id, _) in (await self.channel_calls(pairs)).items()}

    async def channel_calls(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """The call of each (pbx, channel uniqueid), with the position its next recording
        takes (one past its recordings', 0 for none)."""
        if not pairs:
            return {}
        wanted = sorted(set(pairs))
        params = {"pbxes": [p for p, _ in wanted], "uniqueids": [u for _, u in wanted]}
        rows = (await self.session.execute(_CHANNEL_CALLS, params)).all()
        return {(p, u): (c, int(n)) for p, u, c, n in rows}

    async def claim_due(self, now: datetime, limit: int) -> list[tuple[Recording, Call]]:
        """Pending recordings whose check is due, locked for this transaction (another
        instance skips them)."""
        stmt = (
            select(Recording, Call)
            .join(Call, Call.id == Recording.call_id)
            .where(Recording.state == "pending", Recording.next_check_at <= now)
            .order_by(Recording.next_check_at)
            .limit(limit)
            .with_for_update(of=Recording, skip_locked=True)
        )
        return [(r, c) for r, c in (await self.session.execute(stmt)).all()]

    async def pending_paths(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, the path the PBX reported) of pending recordings past ``after_id``, in id
        order (the demo writes their audio)."""
        stmt = (
            select(Recording.id, Recording.reported_path)
            .where(
                Recording.id > after_id,
                Recording.state == "pending",
                Recording.reported_path != "",
                Recording.source != "pattern",
            )
            .order_by(Recording.id)
            .limit(limit)
        )
        return [(int(i), str(p)) for i, p in (await self.session.execute(stmt)).all()]

    async def leg_uniqueids(self, call_id: int) -> list[str]:
        stmt = (
            select(CallLeg.uniqueid).where(CallLeg.call_id == call_id).order_by(CallLeg.created_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def on_call(self, user_id: int, call_id: int) -> bool:
        """Whether one of the user's phones was a leg of the call."""
        stmt = select(CallLeg.id).where(CallLeg.call_id == call_id, CallLeg.user_id == user_id)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def calls_with_user(self, call_ids: Sequence[int], user_id: int) -> set[int]:
        """Those of these calls the user took part in (answered, or a phone of theirs rang)."""
        if not call_ids:
            return set()
        ids = sorted(set(call_ids))
        legs = select(CallLeg.call_id).where(CallLeg.call_id.in_(ids), CallLeg.user_id == user_id)
        answered = select(Call.id).where(Call.id.in_(ids), Call.answered_by_user_id == user_id)
        result = await self.session.execute(legs.union(answered))
        return set(result.scalars())

    async def get(self, recording_id: int) -> tuple[Recording, Call] | None:
        stmt = (
            select(Recording, Call)
            .join(Call, Call.id == Recording.call_id)
            .where(Recording.id == recording_id)
        )
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def of_calls(self, call_ids: Sequence[int]) -> dict[int, list[Recording]]:
        out: dict[int, list[Recording]] = {c: [] for c in call_ids}
        if not call_ids:
            return out
        stmt = (
            select(Recording)
            .where(Recording.call_id.in_(sorted(set(call_ids))), Recording.reported_path != "")
            .order_by(Recording.call_id, Recording.position, Recording.id)
        )
        for recording in (await self.session.execute(stmt)).scalars():
            out[recording.call_id].append(recording)
        return out

    async def by_file_name(self, pbx: str, name: str) -> list[Recording]:
        """Recordings of a PBX whose reported file name is ``name`` (an upload)."""
        stmt = select(Recording).where(
            Recording.pbx == pbx,
            Recording.state.in_(("pending", "missing")),
            or_(Recording.reported_path == name, Recording.reported_path.like(f"%/{_like(name)}")),
        )
        return list((await self.session.execute(stmt)).scalars())

    async def expired(
        self, pbx_queue_days: Sequence[tuple[str | None, datetime]], limit: int
    ) -> list[tuple[Recording, Call]]:
        """Recordings of calls started before the cut-off of their queue (``None``: every
        other queue), not on hold and not already deleted."""
        conds = []
        named = [q for q, _ in pbx_queue_days if q is not None]
        for queue, before in pbx_queue_days:
            if queue is None:
                others = Call.queue.not_in(named) if named else true()
                conds.append(and_(others, Call.started_at < before))
            else:
                conds.append(and_(Call.queue == queue, Call.started_at < before))
        if not conds:
            return []
        stmt = (
            select(Recording, Call)
            .join(Call, Call.id == Recording.call_id)
            .where(
                Recording.state.in_(("available", "empty", "missing", "pending")),
                Recording.legal_hold.is_(False),
                or_(*conds),
            )
            .order_by(Recording.id)
            .limit(limit)
            .with_for_update(of=Recording, skip_locked=True)
        )
        return [(r, c) for r, c in (await self.session.execute(stmt)).all()]

    async def audit(self, entry: RecordingAudit) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def audit_trail(self, recording_id: int) -> list[RecordingAudit]:
        stmt = (
            select(RecordingAudit)
            .where(RecordingAudit.recording_id == recording_id)
            .order_by(RecordingAudit.at, RecordingAudit.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def mixmonitor_stopped(
        self, call_id: int, path: str, now: datetime, at: datetime
    ) -> list[int]:
        """The call's pending recordings of this file (all of them for an empty path) due
        now; with a path, also marked whole since ``at`` (kept in ``available_at`` while
        pending: see :meth:`RecordingService.whole_since`). Their ids."""
        values: dict[str, Any] = {"next_check_at": now}
        if path:
            values["available_at"] = at
        stmt = (
            update(Recording)
            .where(Recording.call_id == call_id, Recording.state == "pending", *_naming(path))
            .values(**values)
            .returning(Recording.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def mixmonitor_started(self, call_id: int, path: str, now: datetime) -> list[int]:
        """MixMonitor writes this file again (appending): no longer whole. One described
        already, of a call still up, is pending again (looked for after ``now``)."""
        if not path:
            return []
        await self.session.execute(
            update(Recording)
            .where(Recording.call_id == call_id, Recording.state == "pending", *_naming(path))
            .values(available_at=None)
        )
        live = select(Call.id).where(Call.id == call_id, Call.ended_at.is_(None)).exists()
        stmt = (
            update(Recording)
            .where(
                Recording.call_id == call_id,
                Recording.state.in_(("available", "empty")),
                live,
                *_naming(path),
            )
            .values(state="pending", available_at=None, attempts=0, next_check_at=now)
            .returning(Recording.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def reschedule_missing(self, ids: Sequence[int], now: datetime) -> None:
        await self.session.execute(
            update(Recording)
            .where(Recording.id.in_(list(ids)))
            .values(state="pending", attempts=0, next_check_at=now)
        )


# A statement of its own before: the legs by (pbx, uniqueid), then their calls' positions.
_CHANNEL_CALLS = text(
    """
SELECT l.pbx, l.uniqueid, l.call_id,
       COALESCE((SELECT max(r.position) + 1 FROM recordings r WHERE r.call_id = l.call_id), 0)
FROM call_legs l
JOIN unnest(:pbxes, :uniqueids) AS w (pbx, uniqueid)
    ON l.pbx = w.pbx AND l.uniqueid = w.uniqueid
"""
).bindparams(
    bindparam("pbxes", type_=ARRAY(String)),
    bindparam("uniqueids", type_=ARRAY(String)),
)


@cache
def _add() -> Any:
    """The recordings' INSERT, built once: its rows go as parameters (one statement sent
    for them all), not as a VALUES list built, hashed and compiled again for each batch."""
    recordings = cast(Table, Recording.__table__)
    return insert(recordings).on_conflict_do_nothing(
        constraint="uq_recordings_call_id_reported_path"
    )


def _naming(path: str) -> list[Any]:
    """Recordings naming this file: the same path, or (a CDR may give only the name) the
    same file name."""
    if not path:
        return []
    name = path.rsplit("/", 1)[-1]
    return [
        or_(
            Recording.reported_path == path,
            Recording.reported_path == name,
            Recording.reported_path.like(f"%/{_like(name)}"),
        )
    ]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
