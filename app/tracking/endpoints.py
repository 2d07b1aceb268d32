from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status

from app.calls.schemas import CallRead
from app.deps import AdminUser, AgentUser, SessionDep, SettingsDep, SupervisorUser, has_role
from app.errors import Conflict, NotFound
from app.history.filters import day_bounds
from app.messaging.service import MessagingService
from app.models import CaseCategory, CaseSla, Role, TrackingCode
from app.tracking.schemas import (
    CategoryIn,
    CategoryRead,
    LinkCall,
    NoteRead,
    SlaIn,
    SlaRead,
    TrackingCodeCreate,
    TrackingCodeRead,
    TrackingCodeUpdate,
    TrackingThread,
)
from app.tracking.service import TrackingService
from recordings.schemas import RecordingBrief
from recordings.service import RecordingService

router = APIRouter(prefix="/api/tracking-codes", tags=["tracking codes"])
cases_router = APIRouter(prefix="/api/cases", tags=["tracking codes"])

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
        by=user,
        call_id=body.call_id,
        customer_id=body.customer_id,
        subject=body.subject,
        category=body.category,
        priority=body.priority,
    )
    # The customer's text with the code (trigger "tracking_code"), in this transaction.
    await MessagingService(session, settings, request.app.state.sms_triggers).tracking_issued(
        [code]
    )
    return code


@router.get("", response_model=list[TrackingCodeRead])
async def list_cases(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    status: Literal["open", "closed"] | None = "open",
    breached: Annotated[bool, Query(description="only those past an SLA deadline")] = False,
    everyone: Annotated[bool, Query(description="supervisors: everyone's")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[TrackingCode]:
    """Cases, newest first, each with its category, priority, SLA deadlines and whether it
    breached them (first response, resolution). Yours (as owner); supervisors may ask for
    everyone's."""
    if everyone and not has_role(user, Role.supervisor):
        everyone = False
    rows = await TrackingService(session, settings).cases.cases(
        owner_id=None if everyone else user.id,
        status=status,
        opened_from=None,
        opened_to=None,
        limit=limit,
    )
    if breached:
        rows = [r for r in rows if _breached(r)]
    return rows


def _breached(code: TrackingCode) -> bool:
    read = TrackingCodeRead.model_validate(code)
    return read.first_response_breached or read.resolution_breached


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
        user,
        code,
        status=body.status,
        subject=body.subject,
        owner_user_id=body.owner_user_id,
        category=body.category,
        priority=body.priority,
        responded=body.responded,
    )


@cases_router.get("/categories", response_model=list[CategoryRead])
async def list_categories(
    session: SessionDep, settings: SettingsDep, _: AgentUser
) -> list[CaseCategory]:
    """The case categories agents pick from."""
    return await TrackingService(session, settings).cases.categories()


@cases_router.post("/categories", status_code=status.HTTP_201_CREATED, response_model=CategoryRead)
async def add_category(
    body: CategoryIn, session: SessionDep, settings: SettingsDep, _: AdminUser
) -> CaseCategory:
    """Admins: a new case category (409 when it exists)."""
    created = await TrackingService(session, settings).cases.add_category(body.name.strip())
    if created is None:
        raise Conflict("this category exists already", field="name")
    return created


@cases_router.get("/slas", response_model=list[SlaRead])
async def list_slas(session: SessionDep, settings: SettingsDep, _: AgentUser) -> list[CaseSla]:
    """The SLA targets per category and priority ("" for any): minutes to the first response
    and to the resolution, on the wall clock or in office hours (TAMAS_BUSINESS_HOURS)."""
    return await TrackingService(session, settings).cases.slas()


@cases_router.put("/slas", response_model=SlaRead)
async def put_sla(body: SlaIn, session: SessionDep, settings: SettingsDep, _: AdminUser) -> CaseSla:
    """Admins: set the targets of a category and priority. Cases opened from now on (or
    re-classified) get deadlines from them; open cases keep theirs."""
    service = TrackingService(session, settings)
    if body.category:
        await service._category(body.category)
    return await service.cases.put_sla(body.model_dump())


@cases_router.get("/report")
async def case_report(
    session: SessionDep,
    settings: SettingsDep,
    _: SupervisorUser,
    from_: Annotated[
        str,
        Query(alias="from", min_length=1, max_length=40, description="first day (ISO or Jalali)"),
    ],
    to: Annotated[str, Query(min_length=1, max_length=40, description="last day, inclusive")],
) -> dict[str, object]:
    """Cases opened in these days, per category and priority and in all: opened, closed,
    mean first-response and resolution time (seconds, on the SLA clock: office hours when
    TAMAS_BUSINESS_HOURS is set), and how many breached each SLA target."""
    start, end = day_bounds(from_, to, settings.time_zone)
    assert start is not None and end is not None
    rows = await TrackingService(session, settings).report(start, end, datetime.now(UTC))
    return {"from": start.isoformat(), "to": end.isoformat(), "rows": rows}
