from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, QaForm, QaReview, User


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def unread(self, agent_id: int, limit: int) -> Sequence[Any]:
        """The agent's reviews not yet seen, oldest first, with their call and reviewer."""
        stmt = (
            select(
                QaReview,
                QaForm.key,
                Call.started_at,
                Call.customer_number,
                func.coalesce(func.nullif(User.full_name, ""), User.username, "").label("by"),
            )
            .join(Call, Call.id == QaReview.call_id)
            .join(QaForm, QaForm.id == QaReview.form_id)
            .outerjoin(User, User.id == QaReview.reviewer_user_id)
            .where(QaReview.agent_user_id == agent_id, QaReview.seen_at.is_(None))
            .order_by(QaReview.id)
            .limit(limit)
        )
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return rows

    async def mark_seen(self, agent_id: int, review_id: int, at: datetime) -> bool:
        """Mark one of the agent's reviews seen (again: nothing changes); False when the
        agent has no such review."""
        stmt = (
            update(QaReview)
            .where(QaReview.id == review_id, QaReview.agent_user_id == agent_id)
            .values(seen_at=func.coalesce(QaReview.seen_at, at))
            .returning(QaReview.id)
        )
        return (await self.session.execute(stmt)).first() is not None
