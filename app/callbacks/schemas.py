from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import DbId, Input

Outcome = Literal["no_answer", "busy", "reached", "wrong_number"]

DUE_AT = Field(
    default=None,
    max_length=40,
    description="when: Jalali (1405-09-20 14:30) or Gregorian (2026-12-11 14:30, or ISO "
    "8601 with an offset), in the service's time zone; with neither this nor in_minutes: now",
    examples=["1405-09-20 14:30"],
)
IN_MINUTES = Field(default=None, ge=0, le=60 * 24 * 366, description="due in N minutes")


class CallbackCreate(Input):
    number: str = Field(min_length=1, max_length=80, examples=["0912 123 4567"])
    due_at: str | None = DUE_AT
    in_minutes: int | None = IN_MINUTES
    assigned_user_id: DbId | None = Field(
        default=None, description="the agent who calls (agents: only themselves)"
    )
    queue: str = Field(default="", max_length=80, description="or the queue whose agents call")
    note: str = Field(default="", max_length=2000)
    max_tries: int | None = Field(default=None, ge=1, le=20, description="default: setting")
    retry_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    pbx: str | None = Field(default=None, max_length=64)


class CallbackUpdate(Input):
    due_at: str | None = DUE_AT
    in_minutes: int | None = IN_MINUTES
    assigned_user_id: DbId | None = None
    unassign: bool = Field(default=False, description="leave it to the queue")
    queue: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=2000)


class AttemptIn(Input):
    outcome: Outcome
    note: str = Field(default="", max_length=2000)
    call_id: DbId | None = Field(default=None, description="the call it was (if not linked)")


class DismissIn(Input):
    reason: str = Field(min_length=1, max_length=500, description="why it needs no call")


class BulkIn(Input):
    ids: list[DbId] = Field(min_length=1, max_length=500)
    action: Literal["seen", "dismiss"]
    reason: str = Field(default="", max_length=500, description="needed to dismiss")


class BulkResult(BaseModel):
    changed: int


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    call_id: int | None
    outcome: str
    note: str
    created_at: datetime


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pbx: str
    number: str
    e164: str | None
    queue: str
    attempts: int = Field(description="calls the customer made that did not get through")
    first_call_at: datetime
    last_call_at: datetime
    last_call_id: int | None
    status: str
    claimed_by_user_id: int | None
    claimed_at: datetime | None
    done_at: datetime | None
    done_call_id: int | None
    done_reason: str = Field(
        description="called_back, customer_got_through, reached, wrong_number, gave_up "
        "(the retry policy's tries used up) or dismissed"
    )
    done_note: str
    source: str = Field(description="missed, manual or queue (asked for from the queue)")
    due_at: datetime
    assigned_user_id: int | None
    note: str
    tries: int = Field(description="calls placed to the customer")
    max_tries: int
    retry_minutes: int
    last_outcome: str
    seen_at: datetime | None
    customer_id: int | None = None
    customer_name: str = ""
