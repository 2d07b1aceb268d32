from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.calls.schemas import CallRead
from app.schemas import DbId, Input
from app.tracking.sla import breached

Priority = Literal["low", "normal", "high", "urgent"]


class TrackingCodeCreate(Input):
    call_id: DbId | None = Field(default=None, description="the call it starts with")
    customer_id: DbId | None = Field(
        default=None, description="whose case it is (default: the call's customer, if one)"
    )
    subject: str = Field(default="", max_length=200)
    category: str = Field(default="", max_length=80, description="one of the admin's categories")
    priority: Priority = "normal"


class TrackingCodeUpdate(Input):
    status: Literal["open", "closed"] | None = None
    subject: str | None = Field(default=None, max_length=200)
    owner_user_id: DbId | None = Field(default=None, description="supervisors: reassign it")
    category: str | None = Field(default=None, max_length=80)
    priority: Priority | None = None
    responded: bool | None = Field(
        default=None, description="true: the customer has had a first answer now"
    )


class LinkCall(Input):
    call_id: DbId


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    user_id: int | None
    text: str
    created_at: datetime
    author: str = ""


class TrackingCodeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str = Field(description="8 digits; the last is a Damm check digit")
    status: str
    subject: str
    customer_id: int | None
    owner_user_id: int | None
    issued_by_user_id: int | None
    automatic: bool
    created_at: datetime
    closed_at: datetime | None
    category: str
    priority: str
    first_response_at: datetime | None
    first_response_due_at: datetime | None = Field(description="the SLA's deadline, if any")
    resolution_due_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def first_response_breached(self) -> bool:
        return breached(self.first_response_due_at, self.first_response_at, datetime.now(UTC))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolution_breached(self) -> bool:
        return breached(self.resolution_due_at, self.closed_at, datetime.now(UTC))


class TrackingThread(TrackingCodeRead):
    owner_name: str
    calls: list[CallRead] = Field(description="oldest first, each with its recordings")
    notes: list[NoteRead]
    names: dict[int, str] = Field(
        default_factory=dict, description="the names of the users the calls and notes name"
    )


class CategoryIn(Input):
    name: str = Field(min_length=1, max_length=80)


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class SlaIn(Input):
    category: str = Field(default="", max_length=80, description='"" for any category')
    priority: Priority | Literal[""] = Field(default="", description='"" for any priority')
    first_response_minutes: int | None = Field(default=None, ge=1, le=525600)
    resolution_minutes: int | None = Field(default=None, ge=1, le=525600)


class SlaRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category: str
    priority: str
    first_response_minutes: int | None
    resolution_minutes: int | None
