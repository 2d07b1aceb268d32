from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.calls.schemas import CallRead
from app.schemas import DbId, Input


class TrackingCodeCreate(Input):
    call_id: DbId | None = Field(default=None, description="the call it starts with")
    customer_id: DbId | None = Field(
        default=None, description="whose case it is (default: the call's customer, if one)"
    )
    subject: str = Field(default="", max_length=200)


class TrackingCodeUpdate(Input):
    status: Literal["open", "closed"] | None = None
    subject: str | None = Field(default=None, max_length=200)
    owner_user_id: DbId | None = Field(default=None, description="supervisors: reassign it")


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


class TrackingThread(TrackingCodeRead):
    owner_name: str
    calls: list[CallRead] = Field(description="oldest first, each with its recordings")
    notes: list[NoteRead]
    names: dict[int, str] = Field(
        default_factory=dict, description="the names of the users the calls and notes name"
    )
