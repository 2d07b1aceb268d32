"""Click-to-calls and agents' queue membership, as Tamas asked for them and as the PBX
reports them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Identity, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class Origination(TimestampMixin, Base):
    """One click-to-call: who asked, from which device, to which number, and how far it got.
    ``ref`` is the Originate's ActionID and the TAMAS_ORIGINATION channel variable, by which
    the PBX's events are matched back to it."""

    __tablename__ = "originations"
    __table_args__ = (Index("ix_originations_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ref: Mapped[str] = mapped_column(String(48), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    pbx: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(80))  # as the agent gave it
    dialled: Mapped[str] = mapped_column(String(80))  # the Exten sent to the PBX
    e164: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    # requested | agent_ringing | dialling | connected | ended | failed
    state: Mapped[str] = mapped_column(String(16), default="requested")
    failure: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(String(300), default="")
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    linkedid: Mapped[str] = mapped_column(String(64), default="")


class QueueMember(Base):
    """An interface's membership of one queue, as the PBX last reported it (QueueStatus,
    QueueMemberStatus/Pause/Added/Removed). A row per (PBX, queue, interface)."""

    __tablename__ = "queue_members"

    pbx: Mapped[str] = mapped_column(String(64), primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    interface: Mapped[str] = mapped_column(String(200), primary_key=True)
    state_interface: Mapped[str] = mapped_column(String(200), default="", index=True)
    member_name: Mapped[str] = mapped_column(String(200), default="")
    membership: Mapped[str] = mapped_column(String(16), default="")  # static | dynamic | realtime
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str] = mapped_column(String(80), default="")
    # Asterisk's device state number: 1 not in use, 2 in use, 5 unavailable, 6 ringing...
    status: Mapped[int] = mapped_column(Integer, default=0)
    in_call: Mapped[bool] = mapped_column(Boolean, default=False)
    # After-call work: Tamas paused the member until then.
    wrapup_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]
