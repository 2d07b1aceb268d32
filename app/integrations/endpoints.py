"""Webhooks on the admin page (endpoints, their delivery log, redelivery) and the event
stream for integrators' apps (``GET /api/events/stream``, Server-Sent Events)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.auth.service import AuthService
from app.db import unit_of_work
from app.deps import AdminUser, BearerDep, SessionDep, has_role
from app.errors import InvalidInput, NotAuthenticated, PermissionDenied
from app.integrations import events as ev
from app.integrations.repository import IntegrationRepository
from app.integrations.schemas import (
    AttemptRead,
    DeliveryRead,
    DeliveryStatus,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypes,
)
from app.integrations.service import IntegrationService
from app.integrations.stream import EventStream
from app.models import Role, User, WebhookEndpoint

router = APIRouter(tags=["integrations"])

# How many events a stream sends per read, and how often it looks by itself (seconds).
_STREAM_PAGE = 200
_STREAM_LOOK = 5.0
# A stream's token is checked again about this often (a revoked token ends the stream).
_TOKEN_CHECK = 60.0


def _read(endpoint: WebhookEndpoint, counts: dict[str, int] | None = None) -> EndpointRead:
    out = EndpointRead.model_validate(endpoint)
    out.secret_hint = "…" + endpoint.secret[-4:]
    out.deliveries = counts or {}
    return out


def _with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecret:
    return EndpointWithSecret(**_read(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/api/admin/webhooks/event-types", response_model=EventTypes)
async def event_types(_: AdminUser) -> EventTypes:
    """The event types an endpoint can subscribe to, and the payloads' version."""
    return EventTypes(version=ev.VERSION, event_types=list(ev.EVENT_TYPES))


@router.get("/api/admin/webhooks", response_model=list[EndpointRead])
async def list_endpoints(session: SessionDep, _: AdminUser) -> list[EndpointRead]:
    """The registered webhook endpoints (admins), with their deliveries counted by status.
    Secrets are never shown here, only their last characters."""
    return [_read(e, c) for e, c in await IntegrationService(session).endpoints()]


@router.post(
    "/api/admin/webhooks", status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret
)
async def create_endpoint(
    body: EndpointCreate, session: SessionDep, _: AdminUser
) -> EndpointWithSecret:
    """Register a URL for some event types. The answer holds the signing secret: the only
    time it is shown (rotate it with PATCH `rotate_secret` if it is lost)."""
    endpoint = await IntegrationService(session).create(
        body.url, body.event_types, body.description, body.enabled
    )
    return _with_secret(endpoint)


@router.get("/api/admin/webhooks/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    session: SessionDep,
    _: AdminUser,
    endpoint_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="older than this id")] = (
        None
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryRead]:
    """The delivery log, newest first: each delivery's status and every attempt's status
    code, duration and error."""
    rows = await IntegrationService(session).deliveries(
        endpoint_id=endpoint_id, status=delivery_status, before=before, limit=limit
    )
    out = []
    for delivery, attempts in rows:
        item = DeliveryRead.model_validate(delivery)
        item.log = [AttemptRead.model_validate(a) for a in attempts]
        out.append(item)
    return out


@router.post(
    "/api/admin/webhooks/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_201_CREATED,
    response_model=DeliveryRead,
)
async def redeliver(delivery_id: int, session: SessionDep, _: AdminUser) -> DeliveryRead:
    """Send this delivery's event again, as a new delivery at the end of its endpoint's
    queue (same event id, so receivers that de-duplicate ignore it if they had it)."""
    if not 1 <= delivery_id < 2**63:
        raise InvalidInput("no such delivery id", field="delivery_id")
    return DeliveryRead.model_validate(await IntegrationService(session).redeliver(delivery_id))


@router.get("/api/admin/webhooks/{endpoint_id}", response_model=EndpointRead)
async def get_endpoint(endpoint_id: int, session: SessionDep, _: AdminUser) -> EndpointRead:
    """One webhook endpoint."""
    service = IntegrationService(session)
    endpoint = await service.endpoint(endpoint_id)
    counts = dict(await service.endpoints()).get(endpoint, {})
    return _read(endpoint, counts)


@router.patch("/api/admin/webhooks/{endpoint_id}", response_model=EndpointWithSecret | EndpointRead)
async def update_endpoint(
    endpoint_id: int, body: EndpointUpdate, session: SessionDep, _: AdminUser
) -> EndpointRead:
    """Change an endpoint: its URL, event types, description, enabled; `rotate_secret`
    draws a new secret, shown in this answer only."""
    endpoint = await IntegrationService(session).update(endpoint_id, body.model_dump())
    if body.rotate_secret:
        return _with_secret(endpoint)
    return _read(endpoint)


@router.delete("/api/admin/webhooks/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(endpoint_id: int, session: SessionDep, _: AdminUser) -> None:
    """Remove an endpoint with its deliveries and their log."""
    await IntegrationService(session).delete(endpoint_id)


async def stream_user(request: Request, creds: BearerDep) -> tuple[User, str]:
    """The supervisor or admin a stream's token signs in, checked in a transaction of its
    own (a stream lasts for hours: it holds no database connection meanwhile)."""
    if creds is None or not creds.credentials:
        raise NotAuthenticated()
    async with unit_of_work(request.app.state.sessionmaker) as session:
        user = await AuthService(session, request.app.state.settings).user_for_token(
            creds.credentials
        )
    if not has_role(user, Role.supervisor):
        raise PermissionDenied("the event stream needs the supervisor role")
    return user, creds.credentials


def _types(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    wanted = [t.strip() for t in raw.split(",") if t.strip()]
    unknown = sorted(set(wanted) - set(ev.EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"unknown event types: {', '.join(unknown)}", field="types")
    return wanted


@dataclass(frozen=True)
class StreamStart:
    token: str
    types: list[str] | None
    after: int


async def stream_start(
    request: Request,
    who: Annotated[tuple[User, str], Depends(stream_user)],
    types: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="comma-separated event types (default: all)",
            examples=["call.ended,recording.ready"],
        ),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="resume after this event's stream id"),
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=30)] = None,
) -> StreamStart:
    """What a stream asked for, checked before the stream starts (a bad one is a 4xx)."""
    wanted = _types(types)
    resume = after
    if resume is None and last_event_id:
        try:
            resume = int(last_event_id)
        except ValueError:
            raise InvalidInput("Last-Event-ID is not a stream id", field="Last-Event-ID") from None
    if resume is None:
        async with request.app.state.sessionmaker() as session:
            resume = await IntegrationRepository(session).last_event_id()
    return StreamStart(who[1], wanted, resume)


@router.get("/api/events/stream", response_class=EventSourceResponse)
async def event_stream(
    request: Request, start: Annotated[StreamStart, Depends(stream_start)]
) -> AsyncIterator[ServerSentEvent]:
    """The webhooks' events as Server-Sent Events (supervisors and admins; `Authorization:
    Bearer <token>`). Each event: `event:` its type, `id:` its stream id, `data:` the same
    JSON payload a webhook gets. Resumes after `Last-Event-ID` (or `after`) when given,
    from the events still kept (`TAMAS_INTEGRATION_EVENTS_RETENTION_DAYS`); otherwise starts
    with what happens next. The stream ends when the token is revoked or expires, and when
    the instance shuts down (clients reconnect with their Last-Event-ID)."""
    async for item in _events(request, start.token, start.types, start.after):
        yield item


async def _events(
    request: Request, token: str, wanted: list[str] | None, last: int
) -> AsyncIterator[ServerSentEvent]:
    app = request.app
    stream: EventStream = app.state.event_stream
    stream.clients += 1
    checked = time.monotonic()
    try:
        yield ServerSentEvent(comment="tamas event stream", retry=3000)
        while not stream.closing and not app.state.shutting_down:
            async with app.state.sessionmaker() as session:
                found = await IntegrationRepository(session).events_after(
                    last, wanted, _STREAM_PAGE
                )
            for event in found:
                last = event.id
                yield ServerSentEvent(
                    raw_data=json.dumps(event.payload, ensure_ascii=False),
                    event=event.type,
                    id=str(event.id),
                )
            if len(found) == _STREAM_PAGE:
                continue
            if time.monotonic() - checked > _TOKEN_CHECK:
                checked = time.monotonic()
                try:
                    async with unit_of_work(app.state.sessionmaker) as session:
                        await AuthService(session, app.state.settings).user_for_token(token)
                except NotAuthenticated:
                    return
            await stream.wait(_STREAM_LOOK)
    finally:
        stream.clients -= 1
