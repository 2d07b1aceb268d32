"""Reaching the customer: the SMS outbox (every text queued in the transaction of what
caused it, sent by the outbox worker), numbers that asked for no texts, the triggers'
templates, and the answers of post-call surveys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

SMS_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "cancelled")


class SmsMessage(TimestampMixin, Base):
    """One text to one number. ``idempotency_key`` names its cause (the tracking code, the
    missed call...), so a cause queues it once however often it is seen."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')",
            name="status",
        ),
        # The worker's claim: what is due, oldest first (and leases that ran out).
        Index("ix_sms_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_sms_outbox_customer_id_created_at", "customer_id", "created_at"),
        # The per-number rate limit counts a number's recent texts.
        Index("ix_sms_outbox_number_created_at", "number", "created_at"),
        Index("ix_sms_outbox_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    number: Mapped[str] = mapped_column(String(20))  # E.164
    body: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # While "sending": the worker that claimed it, and until when no other may.
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    provider: Mapped[str] = mapped_column(String(32), default="")
    provider_message_id: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class SmsOptOut(Base):
    """A number that asked for no more texts (kept apart from customers: a number may be
    several customers', and the wish is the number's)."""

    __tablename__ = "sms_opt_outs"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    reason: Mapped[str] = mapped_column(String(200), default="")
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SmsTrigger(Base):
    """What causes a text, on or off, with its Persian and English template."""

    __tablename__ = "sms_triggers"

    trigger: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    template_fa: Mapped[str] = mapped_column(Text, default="")
    template_en: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class SurveyAnswer(Base):
    """A caller's answer (1 to 5) to one question of the post-call survey, on the call and
    on the agent who answered it."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("call_id", "question", name="uq_survey_answers_call_question"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        CheckConstraint("question BETWEEN 1 AND 2", name="question"),
        CheckConstraint("channel IN ('ivr', 'sms')", name="channel"),
        Index("ix_survey_answers_answered_at", "answered_at"),
        Index("ix_survey_answers_agent_user_id_answered_at", "agent_user_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    question: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[int] = mapped_column(SmallInteger)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    queue: Mapped[str] = mapped_column(String(80), default="")
    channel: Mapped[str] = mapped_column(String(8), default="ivr")
    answered_at: Mapped[datetime] = mapped_column(server_default=func.now())
