"""One error shape for the whole API::

    {"error": {"code": "not_found", "message": "...",
               "fields": [{"field": "...", "message": "..."}]}}

Services raise :class:`DomainError` subclasses; one handler renders them. Bad input is a 4xx,
never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    # True when what the request wrote before failing must still be committed.
    keep_changes = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "sign in first", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class SignInFailed(NotAuthenticated):
    """Wrong username or password: the failure is recorded (for throttling) and kept."""

    code = "sign_in_failed"
    keep_changes = True


class PermissionDenied(DomainError):
    status_code = 403
    code = "forbidden"


class PbxUnreachable(DomainError):
    """The PBX cannot be reached (or refused Tamas's login) for an action."""

    status_code = 503
    code = "pbx_unavailable"


class PbxRefused(DomainError):
    """The PBX answered an action with an error; the message says why."""

    status_code = 502
    code = "pbx_refused"


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"
    keep_changes = True

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


# The one error shape as a JSON schema, written out (no references) so that it documents
# plain-text endpoints' errors too, which are JSON all the same.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "examples": ["not_found"]},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string", "examples": ["body.name"]},
                            "message": {"type": "string"},
                            # What went wrong as a code the panel translates (the message
                            # is English).
                            "code": {"type": "string", "examples": ["missing"]},
                        },
                    },
                },
            },
        }
    },
}
# Documented on every operation: any 4xx comes in the one error shape (FastAPI's own 422
# schema, {"detail": [...]}, is not what the API sends).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Refused: `error.code` and `error.message` say why, `error.fields` "
        "which input (401 sign in, 403 not allowed, 404 not found, 409 conflict, 413 too "
        "large, 422 invalid input, 429 too many attempts)",
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
}


def error_body(code: str, message: str, fields: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": list(fields)}}


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    # "body" / "query" prefixes say where; keep them, they help API users.
    return ".".join(parts)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    fields = [{"field": exc.field, "message": exc.message, "code": exc.code}] if exc.field else []
    return JSONResponse(
        error_body(exc.code, exc.message, fields), status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value"))
        # Pydantic prefixes errors raised by our validators with "Value error, ".
        message = message.removeprefix("Value error, ")
        fields.append(
            {
                "field": _field_path(err.get("loc", ())),
                "message": message,
                # pydantic's error type (missing, string_too_long...): the panel says it in
                # the reader's language.
                "code": str(err.get("type", "invalid")),
            }
        )
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
    return JSONResponse(
        error_body("invalid", f"invalid input ({summary})", fields), status_code=422
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return JSONResponse(
        error_body(code.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _data_error(_: Request, exc: Exception) -> JSONResponse:
    # A value PostgreSQL cannot store (a NUL character, a number out of range) that got past
    # validation: the client's input, so a 422, with the database's reason but no SQL.
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    logger.info("database refused a value: %s", reason)
    return JSONResponse(
        error_body("invalid", f"a value cannot be stored: {reason}"), status_code=422
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # SQLAlchemy's asyncpg dialect raises PostgreSQL's data exceptions (class 22: a NUL in
    # text, a value out of range, a string too long) as a plain DBAPIError, not DataError:
    # told apart by their SQLSTATE. Anything else is a server error, as before.
    assert isinstance(exc, DBAPIError)
    if str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"):
        return await _data_error(request, exc)
    raise exc


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # Checks run before writes; this is the race they cannot see (two requests at once).
    logger.info("integrity error: %s", str(getattr(exc, "orig", exc)).splitlines()[0])
    return JSONResponse(
        error_body("conflict", "this conflicts with data saved at the same moment; try again"),
        status_code=409,
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    # Before the routers are included: every operation inherits the documented errors.
    app.router.responses = {**ERROR_RESPONSES, **app.router.responses}
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)
