from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UnreadReview(BaseModel):
    """A supervisor's review of one of your calls you have not yet dismissed: what the
    panel's notice shows (as the live ``review`` message does)."""

    review_id: int
    call_id: int
    score: int
    comment: str
    by: str = Field(description="the reviewer's name")
    created_at: datetime
    started_at: datetime = Field(description="when the reviewed call started")
    number: str = Field(description="the call's customer number")
    number_display: str = Field(description="the same, as people read it")
