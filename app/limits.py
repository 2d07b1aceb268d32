"""A ceiling on request bodies, refused with 413 in the one error shape before the body is
read (a declared ``Content-Length`` over the limit) or as soon as the streamed body passes it
(chunked uploads, or a client that lied about its length).

JSON endpoints share one limit (``TAMAS_MAX_REQUEST_BYTES``); an upload endpoint has its own
(the customer CSV import: ``TAMAS_IMPORT_MAX_BYTES``), or none here when the endpoint bounds
what it stores itself (the PBX's recording upload: ``TAMAS_RECORDING_UPLOAD_MAX_MB``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import error_body
from app.schemas import no_nul_in_url

# Paths with a limit of their own.
IMPORT_PATH = "/api/customers/import"
RECORDING_UPLOAD_PATH = "/pbx/recordings"


def install_limits(app: FastAPI, settings: Settings) -> None:
    """The bounds of a request on ``app``: its body's size, read per request from
    ``app.state.settings`` (or ``settings`` when it has none), and no NUL in its URL."""

    def limit_for(path: str) -> int | None:
        current: Settings = getattr(app.state, "settings", settings)
        if path == IMPORT_PATH:
            return current.import_max_bytes
        if path == RECORDING_UPLOAD_PATH:
            # Streamed to the storage, which stops at TAMAS_RECORDING_UPLOAD_MAX_MB.
            return None
        return current.max_request_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_exception_handler(BodyTooLarge, _too_large)
    # Before the routers are included, so that every route inherits it.
    app.router.dependencies.append(Depends(no_nul_in_url))


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return JSONResponse(
        error_body("too_large", too_large_message(exc.limit)),
        status_code=413,
        headers={"Connection": "close"},
    )


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit. An HTTPException, so that
    FastAPI's body parsing lets it through (any other error there becomes a 400) and the
    app's handler renders it; the middleware answers itself if it comes back up instead."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))
        self.limit = limit


def too_large_message(limit: int) -> str:
    return f"the request body is larger than the limit of {describe_size(limit)}"


def describe_size(size: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class BodyLimit:
    """Bodies of at most ``limit_for(path)`` bytes (``None``: no limit here, the endpoint has
    its own)."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(error_body("too_large", too_large_message(limit))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The unread rest of the body is not worth keeping the connection for.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
