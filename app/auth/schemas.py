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
    user: UserRead
