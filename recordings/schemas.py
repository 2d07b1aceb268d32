from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Input


class RecordingBrief(BaseModel):
    """A recording as a call's row shows it (the player needs no more)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int = Field(description="its order within the call (transfers record again)")
    state: str = Field(
        description="pending (not there yet), available, empty (a file without any sound: "
        "nothing to play), missing, deleted"
    )
    duration_seconds: float | None
    content_type: str
    legal_hold: bool


class RecordingRead(RecordingBrief):
    call_id: int
    pbx: str
    source: str = Field(description="mixmonitor, cdr, pattern or upload: how it was found")
    file_name: str
    size: int | None
    format: str
    codec: str
    sha256: str
    attempts: int
    available_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime


class HoldRequest(Input):
    hold: bool = Field(description="true: never deleted by retention until released")


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    recording_id: int | None
    user_id: int | None
    action: str
    detail: str
    client: str
    at: datetime


class UploadResult(BaseModel):
    stored_as: str
    size: int
    recordings: int = Field(description="how many known recordings name this file")


class StreamUrl(BaseModel):
    url: str = Field(description="the audio's signed address (same origin), for <audio src>")
    expires_at: datetime
    expires_in: int = Field(description="seconds the address is good for from now")
