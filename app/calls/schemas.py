from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.phones import display_number
from app.schemas import Input
from recordings.schemas import RecordingBrief


class CallLegRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uniqueid: str
    channel: str
    device: str
    internal: bool
    user_id: int | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: str
    hangup_cause_text: str
    dial_status: str


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pbx: str
    linkedid: str
    direction: str = Field(description="inbound, outbound or internal")
    caller_number: str
    caller_name: str
    called_number: str
    customer_number: str
    customer_e164: str | None
    did: str
    queue: str
    answered_by: str = Field(description="the device that answered, e.g. PJSIP/1001")
    answered_by_user_id: int | None
    outcome: str = Field(
        description="inbound: answered, missed (nobody served it, whatever the reason), "
        "abandoned (the caller hung up waiting in a queue); outbound and internal: answered, "
        "no_answer, busy, failed; live while the call is up"
    )
    missed_reason: str = Field(
        default="",
        description="a missed inbound call: no_answer (nobody picked up), declined (an agent's "
        "phone rang and was refused), busy (an agent's line refused it without ringing); "
        "empty otherwise",
    )
    hangup_cause: str
    hangup_cause_text: str
    dial_status: str
    hung_up_by: str
    started_at: datetime
    queue_joined_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float
    talk_seconds: float
    hold_seconds: float
    number_display: str = Field(
        default="",
        description="the customer's number (the caller's on internal calls) as people read "
        "it: the form pops, the history and the wallboard show",
    )
    recordings: list[str] = Field(description="the recording file names the PBX gave")
    recording_files: list[RecordingBrief] = Field(
        default_factory=list,
        description="the recordings you may play (state, duration; the audio at "
        "/api/recordings/{id}/audio); empty for calls of other agents",
    )
    rings: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    end_reason: str
    disposition: str = Field(default="", description="what the call was about (agent's pick)")


class NoteCreate(Input):
    text: str = Field(min_length=1, max_length=5000)


class DispositionSet(Input):
    disposition: str = Field(max_length=40, description="one of the configured dispositions")


class CallDetail(CallRead):
    legs: list[CallLegRead]
    customer_ids: list[int]


class CallPage(BaseModel):
    items: list[CallRead]
    next_cursor: str | None


def call_read(call: Any, region: str) -> CallRead:
    """A stored call as the API shows it, its number in the one display form."""
    item = CallRead.model_validate(call)
    item.number_display = display_number(call.customer_number or call.caller_number, region)
    return item
