"""The logs: secrets kept out of them, one format for every line (text, or JSON for
production: ``TAMAS_LOG_FORMAT=json``), and the request and PBX each line is about."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import re
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from starlette.datastructures import Headers, MutableHeaders

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TOKEN_IN_QUERY = re.compile(r"(?i)([?&](?:token|secret|password|signature)=)[^&\s]*")


def redact(text: str) -> str:
    """``/pbx/lookup?number=1&token=abc`` -> ``/pbx/lookup?number=1&token=***``."""
    return _TOKEN_IN_QUERY.sub(r"\1***", text)


class RedactQuerySecrets(logging.Filter):
    """For uvicorn's access log: a PBX whose CURL() cannot send headers puts its token in the
    query string, and a recording's signed address its signature, which the access log would
    otherwise print."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuerySecrets) for f in access.filters):
        access.addFilter(RedactQuerySecrets())


# -- one format for every log line (Tamas's, uvicorn's, the access log) --------------------

# The request being served (set by ``RequestId``): every line logged while serving it says so.
REQUEST_ID: ContextVar[str | None] = ContextVar("tamas_request_id", default=None)
# The listener's tasks are named after their PBX (``ami-consumer-<id>``).
_PBX_TASKS = ("ami-consumer-", "ami-watchdog-")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn's colored copy of its message, and the raw args: not fields worth a column.
_NOT_FIELDS = ("color_message",)


def _pbx_of(record: logging.LogRecord) -> str | None:
    # The listener and the leadership start their lines with "PBX %s:".
    args = record.args
    if isinstance(record.msg, str) and record.msg.startswith("PBX %s") and isinstance(args, tuple):
        return str(args[0]) if args else None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return None
    name = task.get_name() if task is not None else ""
    for prefix in _PBX_TASKS:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return None


class ContextFields(logging.Filter):
    """Adds ``request_id`` and ``pbx`` to every record (None when not known); the access
    log's records also get ``client``, ``method``, ``path`` and ``status``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.pbx = _pbx_of(record)
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            # Already redacted by RedactQuerySecrets (a filter of the logger: runs first).
            record.client, record.method, record.path, _, record.status = args
        return True


def logging_config(level: str = "info", fmt: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the process, also given to uvicorn as its
    ``log_config``, so that its lines (the access log included) come out in the same format
    and through the same handler as Tamas's own, each with its level."""
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            "reserved_attrs": [*RESERVED_ATTRS, *_NOT_FIELDS],
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFields}},
        "formatters": {"tamas": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "tamas",
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {
            # uvicorn's own handlers are replaced by the root's.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            # pgserver logs every pg_ctl command with its full output at INFO.
            "pgserver": {"level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure(level: str = "info", fmt: str = "text") -> dict[str, Any]:
    """Configure logging for the process; returns the configuration (for uvicorn)."""
    config = logging_config(level, fmt)
    logging.config.dictConfig(config)
    install()
    return config


class RequestId:
    """ASGI middleware: each request gets an id, the client's ``X-Request-ID`` when it sent a
    sensible one (a proxy's), else a new one; it is in every log line written while serving
    the request and in the response's ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_ID.reset(token)
