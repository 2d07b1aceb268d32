"""Shared schema pieces: the base of every input model, bounded id types, and the check that
keeps NUL characters out of query strings and paths."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from pydantic import BaseModel, field_validator
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

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


NUL_MESSAGE = "text must not contain NUL characters"


async def no_nul_in_url(connection: HTTPConnection) -> None:
    """A dependency of every route: a NUL (``%00``) in a query parameter or a path segment is
    a 422 before any endpoint sees it. PostgreSQL refuses NUL in text, so otherwise a search
    or a filter would fail in the driver (a 500) instead of telling the client."""
    errors = [
        {"loc": ("query", key), "msg": NUL_MESSAGE, "type": "value_error", "input": value}
        for key, value in connection.query_params.multi_items()
        if "\x00" in key or "\x00" in value
    ]
    errors += [
        {"loc": ("path", key), "msg": NUL_MESSAGE, "type": "value_error", "input": value}
        for key, value in connection.path_params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if errors:
        if isinstance(connection, WebSocket):
            raise WebSocketRequestValidationError(errors)
        raise RequestValidationError(errors)
