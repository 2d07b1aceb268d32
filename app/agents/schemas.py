from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.schemas import Input


class PauseRequest(Input):
    reason: str = Field(
        max_length=80, description="one of the configured pause reasons", examples=["lunch"]
    )


class AgentStatus(BaseModel):
    user_id: int
    state: str = Field(
        description="available, paused, after_call_work, ringing, on_call, offline (the "
        "phone is unreachable) or no_queue (in no queue: direct calls only)"
    )
    paused: bool = Field(description="paused in every queue")
    partly_paused: bool = Field(description="paused in some queues only")
    reason: str
    wrapup_until: str | None
    queues: list[dict[str, Any]]
    login_queues: list[dict[str, Any]]
    pause_reasons: list[str]


class Requested(BaseModel):
    actions: int = Field(description="how many requests went to the PBX")
    status: AgentStatus = Field(
        description="the status before the PBX confirmed: the change arrives on the panel's "
        "websocket as an `agent` message once the PBX reports it"
    )
