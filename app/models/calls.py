from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin


class Call(TimestampMixin, Base):
    """A call as the customer experienced it (one Asterisk ``Linkedid`` on one PBX)."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_customer_e164_started_at", "customer_e164", "started_at"),
        # The supervisors' history: by agent or queue, newest first.
        Index("ix_calls_answered_by_user_id_started_at", "answered_by_user_id", "started_at"),
        Index("ix_calls_queue_started_at", "queue", "started_at"),
        # By number as typed: the history matches the raw number too, not only the E.164 one.
        Index("ix_calls_customer_number_started_at", "customer_number", "started_at"),
        Index("ix_calls_caller_number_started_at", "caller_number", "started_at"),
        # A talk-time range (rare ones: long calls), and the history sorted by talk time.
        Index("ix_calls_talk_seconds_id", "talk_seconds", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(80), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    called_number: Mapped[str] = mapped_column(String(80), default="")
    customer_number: Mapped[str] = mapped_column(String(80), default="")
    customer_e164: Mapped[str | None] = mapped_column(String(20))
    did: Mapped[str] = mapped_column(String(80), default="")
    queue: Mapped[str] = mapped_column(String(80), default="")
    answered_by: Mapped[str] = mapped_column(String(100), default="")
    answered_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    # An inbound call missed: no_answer, declined or busy ("" for every other call).
    missed_reason: Mapped[str] = mapped_column(String(16), default="", server_default="")
    hangup_cause: Mapped[str] = mapped_column(String(8), default="")
    hangup_cause_text: Mapped[str] = mapped_column(String(100), default="")
    dial_status: Mapped[str] = mapped_column(String(32), default="")
    hung_up_by: Mapped[str] = mapped_column(String(16), default="")
    started_at: Mapped[datetime]
    queue_joined_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    recordings: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    rings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # What the call was about, picked by the agent from the configured list.
    disposition: Mapped[str] = mapped_column(String(40), default="", server_default="")
    disposition_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", lazy="raise", order_by="CallLeg.created_at"
    )


class CallLeg(Base):
    """One channel of a call: the customer's line, an agent's phone that rang."""

    __tablename__ = "call_legs"
    __table_args__ = (UniqueConstraint("pbx", "uniqueid", name="uq_call_legs_pbx_uniqueid"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    pbx: Mapped[str] = mapped_column(String(64))
    uniqueid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(200))
    device: Mapped[str] = mapped_column(String(100))
    internal: Mapped[bool]
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[str] = mapped_column(String(8), default="")
    hangup_cause_text: Mapped[str] = mapped_column(String(100), default="")
    dial_status: Mapped[str] = mapped_column(String(32), default="")

    call: Mapped[Call] = relationship(back_populates="legs", lazy="raise")


class CallCustomer(Base):
    """A call linked to a customer holding the external party's number (all of them)."""

    __tablename__ = "call_customers"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
