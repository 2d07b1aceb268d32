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
    UniqueConstraint,
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
    # The case's kind (one of the admin's case_categories, "" for none) and urgency.
    category: Mapped[str] = mapped_column(String(80), default="", server_default="")
    priority: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    # The first answer the customer had (the call the case was opened on, a later call, a
    # note, closing it); the SLA's deadlines, fixed when the case is opened or re-classified.
    first_response_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]


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
    number, counting the attempts), one an agent scheduled, or one the caller asked for
    from a queue. Due at a time, for an agent or a queue; each try is a CallbackAttempt and
    the retry policy reschedules it; done once a call to the number is answered, or
    dismissed with a reason."""

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
        # What the follow-ups worker claims: open callbacks due and not popped yet.
        Index(
            "ix_callbacks_due_unpopped",
            "due_at",
            postgresql_where=text("status <> 'done' AND popped_at IS NULL"),
        ),
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
    # missed (calls that did not get through) | manual (an agent scheduled it) | queue (the
    # caller pressed a key in the queue to be called back)
    source: Mapped[str] = mapped_column(String(8), default="missed", server_default="missed")
    due_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # For this agent; without one, for the members of ``queue``.
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Calls placed to the customer and the retry policy (taken from the settings when made).
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_tries: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    retry_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    last_outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The click-to-call placed for it (its ref): the call it makes is linked back.
    origination_ref: Mapped[str | None] = mapped_column(String(48), index=True)
    # When its "due now" pop went out (cleared when it is rescheduled).
    popped_at: Mapped[datetime | None]
    seen_at: Mapped[datetime | None]
    seen_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The reason given when dismissed (or a note on how it was done).
    done_note: Mapped[str] = mapped_column(Text, default="", server_default="")


class CallbackAttempt(Base):
    """One try at calling a callback's customer, and how it went."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    callback_id: Mapped[int] = mapped_column(
        ForeignKey("callbacks.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    # no_answer | busy | reached | wrong_number
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Task(TimestampMixin, Base):
    """Something to do for a customer or a case, by an agent, by a time; a reminder pops on
    the agent's panel at ``remind_at`` (once: ``reminded_at`` is set by whichever instance
    claims it). Contract notices are tasks too (``kind`` contract, one per contract)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assignee_open_due", "assignee_user_id", "due_at",
              postgresql_where=text("done_at IS NULL")),
        Index("ix_tasks_remind_pending", "remind_at",
              postgresql_where=text("reminded_at IS NULL AND done_at IS NULL")),
        Index("uq_tasks_contract_id", "contract_id", unique=True,
              postgresql_where=text("contract_id IS NOT NULL")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="task")  # task | contract
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    tracking_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracking_codes.id", ondelete="CASCADE"), index=True
    )
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    assignee_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    due_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_note: Mapped[str] = mapped_column(Text, default="")


class CaseCategory(Base):
    """A kind of case, from the admin's list (cases are classified by its name)."""

    __tablename__ = "case_categories"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CaseSla(Base):
    """Targets for cases of a category and priority ("" for any): minutes to the first
    response and to the resolution (None: no target)."""

    __tablename__ = "case_slas"
    __table_args__ = (UniqueConstraint("category", "priority", name="uq_case_slas_key"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    category: Mapped[str] = mapped_column(String(80), default="")
    priority: Mapped[str] = mapped_column(String(8), default="")
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)


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
