"""Quality review: the forms an admin defines and the reviews made with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Identity, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

# The form the old single 1-5 score became (the migration moved every such review to it).
QUICK_FORM_KEY = "call-score"


class QaForm(TimestampMixin, Base):
    """Sections of weighted questions (yes/no or 1-5; a critical one failed fails the
    whole review), as ``app.supervision.qa.FormDefinition`` describes them."""

    __tablename__ = "qa_forms"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str | None] = mapped_column(String(40), unique=True)  # built-in forms only
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class QaReview(Base):
    """One call reviewed with one form. The form's sections are copied in: a form edited
    later does not change the scores already given."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        Index("ix_qa_reviews_agent_user_id_created_at", "agent_user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("qa_forms.id", ondelete="RESTRICT"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    reviewer_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # 0-100; 0 when a critical question failed (``raw_score`` keeps what it would have been).
    score: Mapped[float] = mapped_column(Float)
    raw_score: Mapped[float] = mapped_column(Float)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    # submitted | acknowledged | disputed
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    agent_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    responded_at: Mapped[datetime | None]
    # When the agent dismissed its notice in the panel: unread (shown at sign-in) until then.
    seen_at: Mapped[datetime | None]
