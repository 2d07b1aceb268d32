from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.calls.schemas import (
    CallDetail,
    CallLegRead,
    CallPage,
    CallRead,
    DispositionSet,
    NoteCreate,
    call_read,
)
from app.calls.service import CallLogService
from app.customers.service import CustomerService
from app.deps import AgentUser, SessionDep, SettingsDep, has_role
from app.errors import InvalidInput, NotFound
from app.models import CallNote, Role, TrackingCode
from app.schemas import MAX_BIGINT, DbId
from app.tracking.repository import TrackingRepository
from app.tracking.schemas import NoteRead, TrackingCodeRead
from recordings.schemas import RecordingBrief
from recordings.service import RecordingService

router = APIRouter(tags=["calls"])


def _encode(started_at: datetime, call_id: int) -> str:
    raw = json.dumps([started_at.isoformat(), call_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        stamp, call_id = json.loads(raw)
        if type(call_id) is not int or not 1 <= call_id <= MAX_BIGINT:
            raise ValueError
        return datetime.fromisoformat(stamp), call_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("cursor is not one this API returned", field="cursor") from exc


@router.get("/api/customers/{customer_id}/calls", response_model=CallPage)
async def customer_calls(
    customer_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CallPage:
    """A customer's calls, newest first: every call from or to any of its numbers."""
    await CustomerService(session, settings).get(customer_id)
    rows = list(
        await CallLogService(session).timeline(
            customer_id, before=_decode(cursor) if cursor else None, limit=limit + 1
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode(rows[-1].started_at, rows[-1].id)
    files = await RecordingService(session, settings).playable_by(user, [c.id for c in rows])
    items = []
    for call in rows:
        item = call_read(call, settings.default_region)
        item.recording_files = [RecordingBrief.model_validate(r) for r in files.get(call.id, [])]
        items.append(item)
    return CallPage(items=items, next_cursor=next_cursor)


@router.get("/api/calls/{call_id}", response_model=CallDetail)
async def get_call(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> CallDetail:
    """One call with its legs (every channel), who rang, transfers and recordings. Agents
    see the calls they took part in; supervisors and admins see all."""
    service = CallLogService(session)
    call = await service.get(call_id)
    if not has_role(user, Role.supervisor):
        involved = {leg.user_id for leg in call.legs} | {call.answered_by_user_id}
        if user.id not in involved:
            # Not "forbidden": whether the call exists is not the agent's business either.
            raise NotFound(f"call {call_id} not found")
    base = call_read(call, settings.default_region).model_dump()
    files = await RecordingService(session, settings).playable_by(user, [call.id])
    base["recording_files"] = [RecordingBrief.model_validate(r) for r in files[call.id]]
    return CallDetail(
        **base,
        legs=[CallLegRead.model_validate(leg) for leg in call.legs],
        customer_ids=await service.customer_ids(call.id),
    )


@router.get("/api/calls/{call_id}/notes", response_model=list[NoteRead])
async def call_notes(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[CallNote]:
    """The notes written on a call, oldest first."""
    await RecordingService(session, settings).call_for_user(user, call_id)
    return await TrackingRepository(session).notes_of([call_id])


@router.get("/api/calls/{call_id}/tracking-codes", response_model=list[TrackingCodeRead])
async def call_codes(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[TrackingCode]:
    """The tracking codes issued for or quoted on a call (the history's call view)."""
    await RecordingService(session, settings).call_for_user(user, call_id)
    return (await TrackingRepository(session).codes_of_calls([call_id]))[call_id]


@router.post("/api/calls/{call_id}/notes", status_code=201, response_model=NoteRead)
async def add_note(
    call_id: DbId, body: NoteCreate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> CallNote:
    """Write a note on a call you took part in (during or after it); later pops of this
    customer show it with the call."""
    await RecordingService(session, settings).call_for_user(user, call_id)
    note = CallNote(call_id=call_id, user_id=user.id, text=body.text.strip())
    session.add(note)
    await session.flush()
    return note


@router.put("/api/calls/{call_id}/disposition", response_model=CallRead)
async def set_disposition(
    call_id: DbId,
    body: DispositionSet,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CallRead:
    """What the call was about, from `TAMAS_DISPOSITIONS` (sale, support, complaint...)."""
    call = await RecordingService(session, settings).call_for_user(user, call_id)
    if body.disposition not in settings.dispositions:
        raise InvalidInput(f"pick one of: {', '.join(settings.dispositions)}", field="disposition")
    call.disposition = body.disposition
    call.disposition_by_user_id = user.id
    await session.flush()
    return call_read(call, settings.default_region)
