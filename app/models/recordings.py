"""Call recordings: what the PBX said it recorded, where the file is, what it is, and who
listened to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class Recording(TimestampMixin, Base):
    """One recording file of a call (a transferred call may have several, kept in order).

    ``state``: ``pending`` (named by the PBX, the file not there or not finished yet; checked
    again at ``next_check_at``), ``available``, ``missing`` (never arrived after the
    retries), ``deleted`` (by retention; the row stays for the audit trail)."""

    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("call_id", "reported_path", name="uq_recordings_call_id_reported_path"),
        Index("ix_recordings_state_next_check_at", "state", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    pbx: Mapped[str] = mapped_column(String(64))
    # The file as the PBX named it (its own path), or "" for a search by pattern.
    reported_path: Mapped[str] = mapped_column(Text, default="")
    # mixmonitor (MIXMONITOR_FILENAME) | cdr (UserField/recordingfile) | pattern | upload
    source: Mapped[str] = mapped_column(String(16))
    relative_path: Mapped[str] = mapped_column(Text, default="")  # under the storage root
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    size: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    format: Mapped[str] = mapped_column(String(16), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    content_type: Mapped[str] = mapped_column(String(64), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    available_at: Mapped[datetime | None]
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]


class RecordingAudit(Base):
    """Who did what with a recording: listen, download, hold, release, delete, upload. A
    system action (retention) has no user."""

    __tablename__ = "recording_audit"
    __table_args__ = (Index("ix_recording_audit_recording_id_at", "recording_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(server_default=func.now())
