"""What a call leaves behind: tracking codes a customer can quote, notes and dispositions,
callbacks owed to customers who could not get through, and customers' support contracts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class TrackingCode(TimestampMixin, Base):
    """A case a customer can pick up later by quoting its code: 8 digits, the last a Damm
    check digit (any single wrong digit and any swap of neighbours is caught). Codes are
    never deleted, so never reused."""

    __tablename__ = "tracking_codes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    subject: Mapped[str] = mapped_column(String(200), default="")
    # Who handles the case (the agent who issued it, unless reassigned).
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    issued_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None]


class TrackingCodeCall(Base):
    """A call in a case's thread (the first call, and every call-back quoting the code)."""

    __tablename__ = "tracking_code_calls"

    tracking_code_id: Mapped[int] = mapped_column(
        ForeignKey("tracking_codes.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CallNote(Base):
    """What an agent wrote about a call, during or after it."""

    __tablename__ = "call_notes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Callback(TimestampMixin, Base):
    """A customer owed a call back: their missed or abandoned calls (one open callback per
    number, counting the attempts), claimed by an agent, done once a call to the number is
    answered."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index(
            "uq_callbacks_pbx_number_open",
            "pbx",
            "number",
            unique=True,
            postgresql_where=text("status <> 'done'"),
        ),
        Index("ix_callbacks_status_last_call_at", "status", "last_call_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(80))  # as the PBX gave it
    e164: Mapped[str | None] = mapped_column(String(20), index=True)
    queue: Mapped[str] = mapped_column(String(80), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_call_at: Mapped[datetime]
    last_call_at: Mapped[datetime]
    last_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | claimed | done
    claimed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    done_reason: Mapped[str] = mapped_column(String(32), default="")


class Contract(TimestampMixin, Base):
    """A customer's support contract: its level and the days it covers (inclusive)."""

    __tablename__ = "contracts"
    __table_args__ = (Index("ix_contracts_ends_on", "ends_on"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(40))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
