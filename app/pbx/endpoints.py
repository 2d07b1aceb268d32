"""Endpoints for the PBX's dialplan (authenticated with the PBX's token, not a user's).

Answers come in three forms: ``format=text`` (default: ``key=value`` lines, for AGI scripts
and people), ``format=hash`` (one line ``key=value&key=value``, URL-encoded, for Asterisk's
``CURLOPT(hashcompat)=yes`` + ``HASH()``), and ``format=json``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.callbacks.service import CallbackService
from app.deps import PbxCaller, ReaderDep, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.pbx.service import PbxLookupService
from app.tracking.codes import BadCode, parse
from app.tracking.repository import TrackingRepository
from app.tracking.service import TrackingService

router = APIRouter(prefix="/pbx", tags=["pbx"])

Format = Literal["text", "hash", "json"]


def _answer(pairs: list[tuple[str, str]], fmt: Format) -> Response:
    if fmt == "json":
        return JSONResponse(dict(pairs))
    clean = [(k, v.replace("\r", " ").replace("\n", " ")) for k, v in pairs]
    if fmt == "hash":
        return PlainTextResponse("&".join(f"{k}={quote(v, safe='')}" for k, v in clean))
    return PlainTextResponse("".join(f"{k}={v}\n" for k, v in clean))


@router.get("/lookup", response_class=PlainTextResponse)
async def lookup(
    reader: ReaderDep,
    settings: SettingsDep,
    _pbx: PbxCaller,
    number: Annotated[str, Query(max_length=64, description="the caller id, as the PBX has it")],
    did: Annotated[str, Query(max_length=64, description="the number dialled (logged only)")] = "",
    format: Annotated[Format, Query()] = "text",
) -> Response:
    """Who is calling, for the dialplan: `found`, `name` (for `CALLERID(name)`),
    `customer_id`, `priority`, `vip` (1/0), `contract` (active, expiring, expired, none),
    `contract_level`, `agent_extension` (the customer's assigned agent), `holders` (how many
    customers share the number). An unknown or unparsable number is `found=0`, never an
    error: the call goes on. Keep the dialplan's timeout short (see asterisk-dev/)."""
    info = await PbxLookupService(reader, settings).caller(number, settings.today())
    return _answer(info.pairs(), format)


@router.get("/tracking", response_class=PlainTextResponse)
async def tracking(
    session: SessionDep,
    settings: SettingsDep,
    _pbx: PbxCaller,
    code: Annotated[str, Query(max_length=40, description="the digits the caller keyed in")],
    format: Annotated[Format, Query()] = "text",
) -> Response:
    """A tracking code keyed in at the IVR: `valid` (0 when mistyped: the check digit is
    wrong, or it is not 8 digits), `found`, `status` (open/closed), `owner` and
    `owner_extension` (to route the caller to the agent handling the case)."""
    try:
        digits = parse(code)
    except BadCode as exc:
        return _answer([("valid", "0"), ("found", "0"), ("reason", str(exc))], format)
    found = await TrackingRepository(session).by_code(digits)
    if found is None:
        return _answer([("valid", "1"), ("found", "0"), ("code", digits)], format)
    owner, extension = await TrackingService(session, settings).owner(found)
    return _answer(
        [
            ("valid", "1"),
            ("found", "1"),
            ("code", digits),
            ("status", found.status),
            ("owner", owner),
            ("owner_extension", extension),
            ("customer_id", str(found.customer_id or "")),
        ],
        format,
    )


@router.post("/callbacks", response_class=PlainTextResponse)
async def request_callback(
    session: SessionDep,
    settings: SettingsDep,
    pbx: PbxCaller,
    number: Annotated[str, Form(max_length=64, description="the caller id")],
    queue: Annotated[str, Form(max_length=80, description="the queue they waited in")] = "",
    format: Annotated[Format, Query()] = "text",
) -> Response:
    """A caller waiting in a queue pressed the key to be called back instead (the
    dialplan's `[tamas-queue-callback]`, a POST with `number` and `queue` as form fields):
    a callback due now for the queue's agents (one open callback per number: asking again
    adds to it). Answers `booked` 1 and `callback_id`, or `booked` 0 with a `reason` (an
    anonymous or unreadable caller id): the caller hears which."""
    try:
        callback = await CallbackService(session, settings).requested(pbx.id, number, queue)
    except InvalidInput as exc:
        return _answer([("booked", "0"), ("reason", exc.message)], format)
    return _answer(
        [
            ("booked", "1"),
            ("callback_id", str(callback.id)),
            ("number", callback.number),
            ("queue", callback.queue),
            ("requests", str(callback.attempts)),
        ],
        format,
    )
