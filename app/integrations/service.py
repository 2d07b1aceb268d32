"""Integrations: events written in the transaction of their cause (the outbox), and the
webhook endpoints admins manage. Never a network call here: the worker delivers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.integrations import events as ev
from app.integrations.repository import IntegrationRepository
from app.integrations.signing import new_secret
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the URL must be http:// or https:// with a host", field="url")
    if parts.username or parts.password:
        raise InvalidInput("put credentials in the secret, not in the URL", field="url")
    return url.strip()


def check_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(ev.EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"unknown event types: {', '.join(unknown)} (known: {', '.join(ev.EVENT_TYPES)})",
            field="event_types",
        )
    if not types:
        raise InvalidInput("pick at least one event type", field="event_types")
    return [t for t in ev.EVENT_TYPES if t in set(types)]


async def emit(session: AsyncSession, events: Sequence[dict[str, Any]]) -> int:
    """Write these events (envelopes from ``app.integrations.events``) and a delivery for
    each endpoint that wants each, in the caller's transaction: they exist if and only if
    what caused them is committed. The number of deliveries made."""
    if not events:
        return 0
    return await IntegrationRepository(session).emit(events)


class IntegrationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = IntegrationRepository(session)

    async def endpoints(self) -> list[tuple[WebhookEndpoint, dict[str, int]]]:
        counts = await self.repo.counts()
        return [(e, counts.get(e.id, {})) for e in await self.repo.endpoints()]

    async def endpoint(self, endpoint_id: int) -> WebhookEndpoint:
        found = await self.repo.endpoint(endpoint_id)
        if found is None:
            raise NotFound(f"webhook endpoint {endpoint_id} not found")
        return found

    async def create(
        self, url: str, event_types: Sequence[str], description: str, enabled: bool
    ) -> WebhookEndpoint:
        return await self.repo.add_endpoint(
            {
                "url": check_url(url),
                "event_types": check_types(event_types),
                "description": description,
                "enabled": enabled,
                "secret": new_secret(),
            }
        )

    async def update(self, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
        endpoint = await self.endpoint(endpoint_id)
        if changes.get("url") is not None:
            endpoint.url = check_url(changes["url"])
        if changes.get("event_types") is not None:
            endpoint.event_types = check_types(changes["event_types"])
        if changes.get("description") is not None:
            endpoint.description = changes["description"]
        if changes.get("enabled") is not None:
            endpoint.enabled = changes["enabled"]
        if changes.get("rotate_secret"):
            endpoint.secret = new_secret()
        await self.session.flush()
        return endpoint

    async def delete(self, endpoint_id: int) -> None:
        await self.repo.delete_endpoint(await self.endpoint(endpoint_id))

    async def deliveries(
        self,
        *,
        endpoint_id: int | None,
        status: str | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
        rows = await self.repo.deliveries(
            endpoint_id=endpoint_id, status=status, before=before, limit=limit
        )
        attempts = await self.repo.attempts_of([d.id for d in rows])
        return [(d, attempts[d.id]) for d in rows]

    async def redeliver(self, delivery_id: int) -> WebhookDelivery:
        delivery = await self.repo.delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return await self.repo.redeliver(delivery)
