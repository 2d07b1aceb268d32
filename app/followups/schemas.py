from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import DbId, Input

WHEN = (
    "Jalali (1405-09-20 14:30) or Gregorian (2026-12-11 14:30, or ISO 8601 with an offset), "
    "in the service's time zone"
)


class TaskCreate(Input):
    title: str = Field(min_length=1, max_length=200, examples=["send the new price list"])
    notes: str = Field(default="", max_length=4000)
    customer_id: DbId | None = None
    tracking_code: str | None = Field(default=None, max_length=40, description="its case")
    assignee_user_id: DbId | None = Field(
        default=None, description="who does it (default: you; agents: only themselves)"
    )
    due_at: str | None = Field(default=None, max_length=40, description=WHEN)
    in_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 366, description="due in N")
    remind: bool = Field(default=True, description="pop a reminder when it falls due")
    remind_at: str | None = Field(
        default=None, max_length=40, description="remind at another time than the due time"
    )


class TaskUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    assignee_user_id: DbId | None = None
    due_at: str | None = Field(default=None, max_length=40, description=WHEN)
    in_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 366)


class TaskDone(Input):
    note: str = Field(default="", max_length=2000)


class Snooze(Input):
    minutes: int = Field(ge=1, le=60 * 24 * 30, description="remind again in N minutes")


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="task, or contract (a contract notice)")
    title: str
    notes: str
    customer_id: int | None
    tracking_code_id: int | None
    contract_id: int | None
    assignee_user_id: int
    created_by_user_id: int | None
    due_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    done_at: datetime | None
    done_note: str
    created_at: datetime
    customer_name: str = ""
    tracking_code: str = ""
    overdue: bool = False


class DueSummary(BaseModel):
    """What the panel's "due" badge counts, for the signed-in user."""

    overdue: int = Field(description="open tasks past their due time")
    due_today: int = Field(description="open tasks due later today")
    open: int
    callbacks_due: int = Field(description="callbacks due now, assigned to or claimed by you")
    contracts_ending: int = Field(description="your open contract notices")
