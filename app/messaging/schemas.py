from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import DbId, Input


class SmsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    body: str
    trigger: str
    customer_id: int | None
    call_id: int | None
    sent_by_user_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    provider: str
    provider_message_id: str
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class SmsSend(Input):
    body: str = Field(min_length=1, max_length=1000)
    # The customer's first mobile number when left out.
    number: str | None = Field(default=None, max_length=40)
    customer_id: DbId | None = None
    call_id: DbId | None = None


class TriggerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    trigger: str
    enabled: bool
    template_fa: str
    template_en: str
    variables: list[str] = []
    updated_at: datetime


class TriggerUpdate(Input):
    enabled: bool
    template_fa: str = Field(max_length=1000)
    template_en: str = Field(max_length=1000)


class OptOutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    reason: str
    by_user_id: int | None
    created_at: datetime


class OptOutCreate(Input):
    number: str = Field(min_length=3, max_length=40)
    reason: str = Field(default="", max_length=200)


class PartsRead(BaseModel):
    encoding: str
    units: int
    parts: int
    per_part: int
    remaining: int
