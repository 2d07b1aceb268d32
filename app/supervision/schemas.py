from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import DbId, Input

SpyMode = Literal["listen", "whisper", "barge"]


class SpyRequest(Input):
    agent_id: DbId = Field(description="the agent whose live call to join")
    mode: SpyMode = Field(
        description="listen (neither side hears you), whisper (only the agent hears you) or "
        "barge (both sides hear you)"
    )
    device: str | None = Field(
        default=None,
        max_length=100,
        description="your phone to ring (one of your devices; the first one if not given)",
    )


class SpySessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str
    pbx: str
    supervisor_user_id: int | None
    agent_user_id: int | None
    call_id: int | None
    mode: str
    agent_channel: str
    supervisor_device: str
    state: str = Field(description="requested, active (your phone is in the call), ended, failed")
    failure: str = Field(description="why it failed: device_offline, agent_no_answer, ...")
    failure_text: str = ""
    requested_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    stopped_by_user_id: int | None = Field(
        default=None, description="who ended it from Tamas (null: the phone or the call ended)"
    )
    seconds: float | None = Field(default=None, description="how long it lasted, once ended")


class SupervisorPause(Input):
    reason: str = Field(max_length=80, description="one of the configured pause reasons")


class SupervisorRequested(BaseModel):
    actions: int = Field(description="how many requests went to the PBX")
    agent_id: int
    action: str
