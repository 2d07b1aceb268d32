from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from app.callbacks.service import CallbackService
from app.deps import AgentUser, SessionDep, SettingsDep
from app.messaging.service import MessagingService
from app.models import Callback
from app.schemas import DbId

router = APIRouter(prefix="/api/callbacks", tags=["callbacks"])


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pbx: str
    number: str
    e164: str | None
    queue: str
    attempts: int
    first_call_at: datetime
    last_call_at: datetime
    last_call_id: int | None
    status: str
    claimed_by_user_id: int | None
    claimed_at: datetime | None
    done_at: datetime | None
    done_call_id: int | None
    done_reason: str
    customer_id: int | None = None
    customer_name: str = ""


@router.get("", response_model=list[CallbackRead])
async def list_callbacks(
    session: SessionDep,
    user: AgentUser,
    status: Literal["open", "claimed", "done"] = "open",
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CallbackRead]:
    """Customers owed a call back: who called (number), when first and last, how many
    times, which queue. Open ones oldest first; `mine=true` with `status=claimed` for your
    own. Done when a call to the number is answered (`done_reason`: called_back, or
    customer_got_through)."""
    rows = await CallbackService(session).listing(user, status, mine, limit)
    holders = await CallbackService(session).holders([c.e164 for c in rows if c.e164])
    out = []
    for callback in rows:
        item = CallbackRead.model_validate(callback)
        if callback.e164 in holders:
            item.customer_id, item.customer_name = holders[callback.e164]
        out.append(item)
    return out


@router.post("/{callback_id}/claim", response_model=CallbackRead)
async def claim_callback(
    callback_id: DbId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> Callback:
    """Take a callback (409 when another agent has it); then call the number
    (`POST /api/originations`). With the SMS trigger `callback_scheduled` on, the customer
    is told by text that you will call."""
    callback = await CallbackService(session).claim(user, callback_id, True)
    await MessagingService(session, settings, request.app.state.sms_triggers).callback_claimed(
        callback, user
    )
    return callback


@router.post("/{callback_id}/release", response_model=CallbackRead)
async def release_callback(callback_id: DbId, session: SessionDep, user: AgentUser) -> Callback:
    """Give a claimed callback back to the open list."""
    return await CallbackService(session).claim(user, callback_id, False)
