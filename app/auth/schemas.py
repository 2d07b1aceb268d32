from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.schemas import Input
from app.users.schemas import UserRead


class SignIn(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    expires_in: float = Field(
        description="seconds the token is good for from now: a client refreshes it "
        "(POST /api/auth/refresh) before then, whatever its own clock says"
    )
    user: UserRead
    time_zone: str = Field(
        description="the call center's time zone (TAMAS_TIME_ZONE): the days and hours of "
        "the history and the reports, whatever the browser's clock is set to"
    )
