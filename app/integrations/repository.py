"""Integrations' SQL: the events and the webhook outbox (claiming, finishing, the log), and
the endpoints admins register."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IntegrationEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

NOTIFY_CHANNEL = "tamas_integrations"

# The events of one transaction and the deliveries they make, and the notification that
# wakes the workers and the streams (sent at commit), in one statement.
_EMIT = text(
    """
WITH given AS (
    SELECT e ->> 'id' AS event_id, e ->> 'type' AS type, e AS payload, ord
    FROM jsonb_array_elements(CAST(CAST(:events AS text) AS jsonb)) WITH ORDINALITY AS g(e, ord)
), ev AS (
    INSERT INTO integration_events (event_id, type, payload)
    SELECT event_id, type, payload FROM given ORDER BY ord
    RETURNING id, event_id, type, payload
), d AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload)
    SELECT w.id, ev.event_id, ev.type, ev.payload
    FROM ev JOIN webhook_endpoints w ON w.enabled AND ev.type = ANY(w.event_types)
    ORDER BY ev.id, w.id
    RETURNING 1
)
SELECT pg_notify(:channel, (SELECT max(id) FROM ev)::text), (SELECT count(*) FROM d)
"""
)

# The head of each endpoint's queue (its oldest row neither delivered nor dead) when it is
# due: pending and its time come, or claimed by an instance whose lease ran out (it died
# or hung mid-delivery). A head claimed by another instance right now is locked (skipped)
# or, once that claim committed, no longer matches the row's own conditions.
_CLAIM = text(
    """
WITH heads AS (
    SELECT DISTINCT ON (endpoint_id) id
    FROM webhook_deliveries
    WHERE status IN ('pending', 'delivering')
    ORDER BY endpoint_id, id
)
SELECT d.id FROM webhook_deliveries d JOIN heads h ON h.id = d.id
JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE w.enabled AND (
    (d.status = 'pending' AND d.next_attempt_at <= now())
    OR (d.status = 'delivering' AND d.lease_until < now())
) AND NOT (d.endpoint_id = ANY(CAST(:busy AS bigint[])))
ORDER BY d.id
LIMIT :limit
FOR UPDATE OF d SKIP LOCKED
"""
)


@dataclass(frozen=True)
class Claimed:
    """A delivery this instance holds until ``lease_until``; ``attempt`` is its number and
    the fencing token: the outcome is written only if nobody claimed the row since."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempt: int


class IntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- events -----------------------------------------------------------------------------

    async def emit(self, events: Sequence[dict[str, Any]]) -> int:
        """Store the events and their deliveries; the number of deliveries made."""
        result = await self.session.execute(
            _EMIT,
            {"events": json.dumps(list(events), ensure_ascii=False), "channel": NOTIFY_CHANNEL},
        )
        row = result.one()
        return int(row[1])

    async def events_after(
        self, after: int, types: Sequence[str] | None, limit: int
    ) -> list[IntegrationEvent]:
        stmt = select(IntegrationEvent).where(IntegrationEvent.id > after)
        if types:
            stmt = stmt.where(IntegrationEvent.type.in_(list(types)))
        stmt = stmt.order_by(IntegrationEvent.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def purge_events(self, days: int) -> None:
        await self.session.execute(
            delete(IntegrationEvent).where(
                IntegrationEvent.created_at < func.now() - func.make_interval(0, 0, 0, days)
            )
        )

    async def last_event_id(self) -> int:
        found = await self.session.execute(select(func.max(IntegrationEvent.id)))
        return int(found.scalar_one() or 0)

    # -- the outbox -------------------------------------------------------------------------

    async def claim(self, busy: Sequence[int], limit: int, lease_seconds: float) -> list[Claimed]:
        """Claim the due heads of the endpoints' queues (not those of ``busy`` endpoints,
        which this instance is delivering to already)."""
        ids = [
            r[0] for r in await self.session.execute(_CLAIM, {"busy": list(busy), "limit": limit})
        ]
        if not ids:
            return []
        stmt = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(
                status="delivering",
                attempts=WebhookDelivery.attempts + 1,
                lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.endpoint_id,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
            )
        )
        rows = (await self.session.execute(stmt)).all()
        endpoints = {
            e.id: e
            for e in (
                await self.session.execute(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.id.in_(sorted({r[1] for r in rows}))
                    )
                )
            ).scalars()
        }
        return sorted(
            (
                Claimed(
                    id=r[0],
                    endpoint_id=r[1],
                    url=endpoints[r[1]].url,
                    secret=endpoints[r[1]].secret,
                    event_id=r[2],
                    event_type=r[3],
                    payload=r[4],
                    attempt=r[5],
                )
                for r in rows
            ),
            key=lambda c: c.id,
        )

    async def finish(
        self,
        claimed: Claimed,
        *,
        status: str,
        started_at: datetime,
        duration_ms: float,
        status_code: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Write an attempt's outcome, and its line in the log. False (nothing written): the
        row was claimed again meanwhile (this instance's lease ran out), so the outcome
        belongs to the newer claim."""
        values: dict[str, Any] = {
            "status": status,
            "lease_until": None,
            "last_status_code": status_code,
            "last_error": error[:2000],
            "last_duration_ms": duration_ms,
        }
        if status == "delivered":
            values["delivered_at"] = func.now()
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        stmt = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.id,
                WebhookDelivery.attempts == claimed.attempt,
                WebhookDelivery.status == "delivering",
            )
            .values(**values)
            .returning(WebhookDelivery.id)
        )
        done = (await self.session.execute(stmt)).first() is not None
        await self.log_attempt(claimed, started_at, duration_ms, status_code, error)
        return done

    async def log_attempt(
        self,
        claimed: Claimed,
        started_at: datetime,
        duration_ms: float,
        status_code: int | None,
        error: str,
    ) -> None:
        self.session.add(
            WebhookAttempt(
                delivery_id=claimed.id,
                attempt=claimed.attempt,
                started_at=started_at,
                duration_ms=duration_ms,
                status_code=status_code,
                error=error[:2000],
            )
        )
        await self.session.flush()

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery (or running lease) falls due."""
        stmt = select(
            func.min(
                func.coalesce(
                    WebhookDelivery.lease_until,
                    WebhookDelivery.next_attempt_at,
                )
            )
        ).where(WebhookDelivery.status.in_(("pending", "delivering")))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    # -- the admin's view -------------------------------------------------------------------

    async def endpoints(self) -> list[WebhookEndpoint]:
        stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
        return list((await self.session.execute(stmt)).scalars())

    async def endpoint(self, endpoint_id: int) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, endpoint_id)

    async def add_endpoint(self, values: dict[str, Any]) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(**values)
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))

    async def counts(self) -> dict[int, dict[str, int]]:
        """Each endpoint's deliveries by status."""
        stmt = select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
        out: dict[int, dict[str, int]] = {}
        for endpoint_id, status, n in (await self.session.execute(stmt)).all():
            out.setdefault(endpoint_id, {})[status] = n
        return out

    async def deliveries(
        self,
        *,
        endpoint_id: int | None,
        status: str | None,
        before: int | None,
        limit: int,
    ) -> list[WebhookDelivery]:
        stmt = select(WebhookDelivery)
        if endpoint_id is not None:
            stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if before is not None:
            stmt = stmt.where(WebhookDelivery.id < before)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id)

    async def attempts_of(self, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
        out: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return out
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
        )
        for attempt in (await self.session.execute(stmt)).scalars():
            out[attempt.delivery_id].append(attempt)
        return out

    async def redeliver(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """A new row for the same event at the end of its endpoint's queue (the old row and
        its log stay as they were)."""
        again = WebhookDelivery(
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            payload=delivery.payload,
            redelivery_of=delivery.id,
        )
        self.session.add(again)
        await self.session.flush()
        await self.session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})
        return again
