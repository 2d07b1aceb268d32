"""Shared schema pieces: the base of every input model and bounded id types."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import BaseModel, field_validator

MAX_BIGINT = 2**63 - 1

# An id of a row: PostgreSQL bigint. Bounded so a huge number is a 422, not a driver error.
DbId = Annotated[int, Ge(1), Le(MAX_BIGINT)]


def _check_text(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, list):
        for item in value:
            _check_text(item)
    return value


class Input(BaseModel):
    """Base of request bodies: no string anywhere may hold a NUL (PostgreSQL refuses it)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _check_text(value)
