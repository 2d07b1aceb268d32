from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PopEvent(Base):
    """One screen-pop message for one agent, written in the same transaction as the call it
    is about (so it goes out only once that is committed). Its id is the agent's sequence
    number: a client that reconnects asks for what came after the last one it saw."""

    __tablename__ = "pop_events"
    __table_args__ = (
        Index("ix_pop_events_user_id_id", "user_id", "id"),
        Index("ix_pop_events_pbx_linkedid", "pbx", "linkedid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    # pop (show or refresh the card) | withdraw (take it away, with a reason) | end
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
