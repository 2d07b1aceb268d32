"""Integrations' SQL: the events and the webhook outbox (claiming, finishing, the log), and
the endpoints admins register."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
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
# or, once that claim committed, no longer matches the row's own conditions. Claimed in
# the same statement, with what the delivery needs of its endpoint.
_CLAIM = text(
    """
WITH heads AS (
    SELECT DISTINCT ON (endpoint_id) id
    FROM webhook_deliveries
    WHERE status IN ('pending', 'delivering')
    ORDER BY endpoint_id, id
), picked AS (
    SELECT d.id FROM webhook_deliveries d JOIN heads h ON h.id = d.id
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE w.enabled AND (
        (d.status = 'pending' AND d.next_attempt_at <= now())
        OR (d.status = 'delivering' AND d.lease_until < now())
    ) AND NOT (d.endpoint_id = ANY(CAST(:busy AS bigint[])))
    ORDER BY d.id
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = 'delivering', attempts = d.attempts + 1,
    lease_until = now() + make_interval(secs => CAST(:lease AS double precision))
FROM picked, webhook_endpoints w
WHERE d.id = picked.id AND w.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, w.url, w.secret, d.event_id, d.event_type, d.payload, d.attempts
"""
).columns(payload=JSONB)

# An attempt's outcome and its line in the log, in one statement; the outcome only if the
# row is still this attempt's (nobody claimed it again since).
_FINISH = text(
    """
WITH done AS (
    UPDATE webhook_deliveries
    SET status = CAST(:status AS varchar), lease_until = NULL,
        last_status_code = CAST(:code AS integer), last_error = CAST(:error AS text),
        last_duration_ms = CAST(:ms AS double precision),
        delivered_at = CASE WHEN CAST(:status AS varchar) = 'delivered' THEN now()
                            ELSE delivered_at END,
        next_attempt_at = COALESCE(CAST(:next AS timestamptz), next_attempt_at)
    WHERE id = :id AND attempts = :attempt AND status = 'delivering'
    RETURNING id
)
INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
VALUES (:id, :attempt, CAST(:started AS timestamptz), CAST(:ms AS double precision),
        CAST(:code AS integer), CAST(:error AS text))
RETURNING (SELECT count(*) FROM done)
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
        params = {"busy": list(busy), "limit": limit, "lease": lease_seconds}
        rows = (await self.session.execute(_CLAIM, params)).all()
        return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)

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
        """Write an attempt's outcome, and its line in the log. False (only the log line
        written): the row was claimed again meanwhile (this instance's lease ran out), so
        the outcome belongs to the newer claim."""
        params = {
            "id": claimed.id,
            "attempt": claimed.attempt,
            "status": status,
            "code": status_code,
            "error": error[:2000],
            "ms": duration_ms,
            "next": next_attempt_at,
            "started": started_at,
        }
        return bool((await self.session.execute(_FINISH, params)).scalar_one())

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
