from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Input

DeliveryStatus = Literal["pending", "delivering", "delivered", "dead"]


class EndpointCreate(Input):
    url: str = Field(max_length=2000, examples=["https://erp.example.com/tamas/hooks"])
    event_types: list[str] = Field(max_length=20, examples=[["call.ended"]])
    description: str = Field(default="", max_length=200)
    enabled: bool = True


class EndpointUpdate(Input):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    rotate_secret: bool = Field(
        default=False, description="a new secret (shown once, in this answer)"
    )


class EndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    # The secret's last characters only, to tell secrets apart.
    secret_hint: str = ""
    deliveries: dict[str, int] = Field(default_factory=dict, description="counts by status")


class EndpointWithSecret(EndpointRead):
    """Answered when an endpoint is created or its secret rotated: the only times the
    secret is shown."""

    secret: str


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    last_duration_ms: float | None
    created_at: datetime
    delivered_at: datetime | None
    redelivery_of: int | None
    payload: dict[str, Any]
    log: list[AttemptRead] = Field(default_factory=list)


class EventTypes(BaseModel):
    version: int
    event_types: list[str]
