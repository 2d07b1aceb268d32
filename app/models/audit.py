"""The audit log: who did what, from where, to what. Written in the same transaction as the
action it records, so a rolled-back action leaves no entry and a committed one always has
its entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditEvent(Base):
    """One audited action. ``actor_name`` is kept as well as the id: a user deleted later
    (the id set to NULL) is still named. ``details`` never holds a secret's value."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # Keyset pagination newest first, alone or by action / by actor.
        Index("ix_audit_events_at_id", "at", "id"),
        Index("ix_audit_events_action_at", "action", "at"),
        Index("ix_audit_events_actor_user_id_at", "actor_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class SettingDigest(Base):
    """What each setting was when an instance last started, as a keyed digest (never the
    value): a start with other settings is audited as a settings change naming the keys.
    Settings come from the environment, so a change happens at a (re)start."""

    __tablename__ = "setting_digests"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
