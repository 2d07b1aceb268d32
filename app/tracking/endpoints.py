from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from app.calls.schemas import CallRead
from app.deps import AgentUser, SessionDep, SettingsDep
from app.errors import NotFound
from app.messaging.service import MessagingService
from app.models import TrackingCode
from app.tracking.schemas import (
    LinkCall,
    NoteRead,
    TrackingCodeCreate,
    TrackingCodeRead,
    TrackingCodeUpdate,
    TrackingThread,
)
from app.tracking.service import TrackingService
from recordings.schemas import RecordingBrief
from recordings.service import RecordingService

router = APIRouter(prefix="/api/tracking-codes", tags=["tracking codes"])

CodePath = Annotated[
    str,
    Path(
        max_length=40,
        description="8 digits, as the customer says it (spaces, dashes, Persian digits are "
        "fine); a mistyped one is refused at once (422 `code_mistyped`)",
        examples=["4830 2716"],
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TrackingCodeRead)
async def issue_code(
    body: TrackingCodeCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> TrackingCode:
    """Issue a tracking code for a case (optionally starting with a call); the customer can
    quote it on a later call. Answered inbound calls get one automatically unless
    `TAMAS_TRACKING_AUTO_ISSUE` is off. With the SMS trigger `tracking_code` on, the customer
    gets the code by text."""
    service = TrackingService(session, settings)
    if body.call_id is not None:
        await RecordingService(session, settings).call_for_user(user, body.call_id)
    code = await service.issue(
        by=user, call_id=body.call_id, customer_id=body.customer_id, subject=body.subject
    )
    # The customer's text with the code (trigger "tracking_code"), in this transaction.
    await MessagingService(session, settings, request.app.state.sms_triggers).tracking_issued(
        [code]
    )
    return code


@router.get("/{code}", response_model=TrackingThread)
async def get_thread(
    code: CodePath, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TrackingThread:
    """The whole case: status, owner, every call quoting the code (oldest first, with the
    recordings you may play), and the notes written on them."""
    service = TrackingService(session, settings)
    found = await service.get(code)
    calls = await service.repo.calls_of(found.id)
    files = await RecordingService(session, settings).playable_by(user, [c.id for c in calls])
    rows = []
    for call in calls:
        item = CallRead.model_validate(call)
        item.recording_files = [RecordingBrief.model_validate(r) for r in files.get(call.id, [])]
        rows.append(item)
    notes = await service.repo.notes_of([c.id for c in calls])
    owner_name, _ = await service.owner(found)
    names = await service.names([n.user_id for n in notes] + [c.answered_by_user_id for c in calls])
    note_rows = []
    for note in notes:
        note_row = NoteRead.model_validate(note)
        note_row.author = names.get(note.user_id or 0, "")
        note_rows.append(note_row)
    return TrackingThread(
        **TrackingCodeRead.model_validate(found).model_dump(),
        owner_name=owner_name,
        calls=rows,
        notes=note_rows,
        names=names,
    )


@router.post("/{code}/calls", response_model=TrackingCodeRead)
async def link_call(
    code: CodePath, body: LinkCall, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TrackingCode:
    """The customer quoted the code on this call: the call joins the case's thread."""
    TrackingService(session, settings).parse(code)  # a mistyped code is told first
    try:
        await RecordingService(session, settings).call_for_user(user, body.call_id)
    except NotFound:
        raise NotFound(f"call {body.call_id} not found", field="call_id") from None
    return await TrackingService(session, settings).link(user, code, body.call_id)


@router.patch("/{code}", response_model=TrackingCodeRead)
async def update_code(
    code: CodePath,
    body: TrackingCodeUpdate,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> TrackingCode:
    """Close or reopen a case, change its subject; supervisors may reassign it."""
    return await TrackingService(session, settings).update(
        user, code, status=body.status, subject=body.subject, owner_user_id=body.owner_user_id
    )
