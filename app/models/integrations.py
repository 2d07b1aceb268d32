"""Integrations: the events other systems hear about (calls, recordings, cases, callbacks),
the webhook endpoints admins register, and the durable outbox their deliveries go through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class IntegrationEvent(Base):
    """One event as the integrators get it (the versioned envelope in ``payload``), written
    in the transaction of what caused it. The event stream reads them by ``id``."""

    __tablename__ = "integration_events"
    __table_args__ = (Index("ix_integration_events_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookEndpoint(TimestampMixin, Base):
    """A URL an admin registered for some event types, with the secret its deliveries are
    signed with."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(Base):
    """One event to one endpoint (the outbox row). ``status``: pending (waiting for
    ``next_attempt_at``), delivering (claimed until ``lease_until``), delivered, dead (given
    up after the most attempts). An endpoint's rows are delivered in ``id`` order, one at a
    time."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The heads of the endpoints' queues: their oldest rows not yet delivered or dead.
        Index(
            "ix_webhook_deliveries_open",
            "endpoint_id",
            "id",
            postgresql_where=text("status IN ('pending', 'delivering')"),
        ),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    last_duration_ms: Mapped[float | None]
    # A redelivery asked from the admin page: the row it repeats.
    redelivery_of: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try of a delivery: when, how long, what the endpoint answered (or what failed)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
