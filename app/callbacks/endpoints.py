from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from app.callbacks.schemas import (
    AttemptIn,
    AttemptRead,
    BulkIn,
    BulkResult,
    CallbackCreate,
    CallbackRead,
    CallbackUpdate,
    DismissIn,
)
from app.callbacks.service import CallbackService
from app.deps import AgentUser, SessionDep, SettingsDep, SupervisorUser
from app.messaging.service import MessagingService
from app.models import Callback
from app.schemas import DbId

router = APIRouter(prefix="/api/callbacks", tags=["callbacks"])


async def _read(service: CallbackService, rows: Sequence[Callback]) -> list[CallbackRead]:
    holders = await service.holders([c.e164 for c in rows if c.e164])
    out = []
    for callback in rows:
        item = CallbackRead.model_validate(callback)
        if callback.e164 in holders:
            item.customer_id, item.customer_name = holders[callback.e164]
        out.append(item)
    return out


@router.get("", response_model=list[CallbackRead])
async def list_callbacks(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    status: Literal["open", "claimed", "done", "due"] = "open",
    mine: bool = False,
    due_only: Annotated[bool, Query(description="only those due by now")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CallbackRead]:
    """Customers owed a call back: who called (number), when first and last, how many
    times, which queue, when it is due and for whom, the tries so far. Open ones oldest
    first; `status=due` every one not done by due time; `mine=true` those claimed by or
    assigned to you. Done when a call to the number is answered (`done_reason`:
    called_back, or customer_got_through), a try ends it (wrong_number, gave_up), or it is
    dismissed (with the reason in `done_note`)."""
    service = CallbackService(session, settings)
    return await _read(service, await service.listing(user, status, mine, limit, due_only))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CallbackRead)
async def create_callback(
    body: CallbackCreate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> CallbackRead:
    """Schedule a callback: now, in N minutes, or at a Jalali or Gregorian date and time;
    for an agent (agents: themselves) or a queue's agents. A number with an open callback
    already gets that one, rescheduled (one open callback per number)."""
    service = CallbackService(session, settings)
    return (await _read(service, [await service.create(user, body)]))[0]


@router.get("/{callback_id}/attempts", response_model=list[AttemptRead])
async def list_attempts(
    callback_id: DbId, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> list[AttemptRead]:
    """The tries made, oldest first, each with its outcome and the call it was."""
    service = CallbackService(session, settings)
    await service.get(callback_id)
    return [AttemptRead.model_validate(a) for a in await service.repo.attempts_of(callback_id)]


@router.patch("/{callback_id}", response_model=CallbackRead)
async def update_callback(
    callback_id: DbId,
    body: CallbackUpdate,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CallbackRead:
    """Reschedule, reassign (agents: to themselves or back to the queue), change the note."""
    service = CallbackService(session, settings)
    return (await _read(service, [await service.update(user, callback_id, body)]))[0]


@router.post("/{callback_id}/attempts", response_model=CallbackRead)
async def add_attempt(
    callback_id: DbId,
    body: AttemptIn,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CallbackRead:
    """How a try went (a click-to-call placed with `callback_id` records its own): reached
    or wrong_number ends it; no_answer or busy makes it due again `retry_minutes` later,
    until `max_tries` tries are used up (then done, `gave_up`)."""
    service = CallbackService(session, settings)
    done = await service.attempt(user, callback_id, body.outcome, body.note, body.call_id)
    return (await _read(service, [done]))[0]


@router.post("/{callback_id}/dismiss", response_model=CallbackRead)
async def dismiss_callback(
    callback_id: DbId,
    body: DismissIn,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CallbackRead:
    """No call needed after all: done, with the reason."""
    service = CallbackService(session, settings)
    return (await _read(service, [await service.dismiss(user, callback_id, body.reason)]))[0]


@router.post("/bulk", response_model=BulkResult)
async def bulk_callbacks(
    body: BulkIn, session: SessionDep, settings: SettingsDep, user: SupervisorUser
) -> BulkResult:
    """Supervisors: mark many callbacks seen, or dismiss many with one reason."""
    changed = await CallbackService(session, settings).bulk(
        user, body.ids, body.action, body.reason
    )
    return BulkResult(changed=changed)


@router.post("/{callback_id}/claim", response_model=CallbackRead)
async def claim_callback(
    callback_id: DbId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CallbackRead:
    """Take a callback (409 when another agent has it); then call the number
    (`POST /api/originations` with `callback_id`, which links the call to it). With the SMS
    trigger `callback_scheduled` on, the customer is told by text that you will call."""
    service = CallbackService(session, settings)
    callback = await service.claim(user, callback_id, True)
    await MessagingService(session, settings, request.app.state.sms_triggers).callback_claimed(
        callback, user
    )
    return (await _read(service, [callback]))[0]


@router.post("/{callback_id}/release", response_model=CallbackRead)
async def release_callback(
    callback_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> CallbackRead:
    """Give a claimed callback back to the open list."""
    service = CallbackService(session, settings)
    return (await _read(service, [await service.claim(user, callback_id, False)]))[0]
