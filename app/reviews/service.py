"""Reviews an agent has yet to read: kept until they dismiss them, so a review given while
they were signed out is still there when they sign in."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.models import User
from app.models.qa import QUICK_FORM_KEY
from app.phones import display_number
from app.reviews.repository import ReviewRepository
from app.reviews.schemas import UnreadReview
from app.supervision.qa_service import quick_score

UNREAD_LIMIT = 50


class ReviewService:
    def __init__(self, session: AsyncSession, region: str) -> None:
        self.repo = ReviewRepository(session)
        self.region = region

    async def unread(self, user: User) -> list[UnreadReview]:
        rows = await self.repo.unread(user.id, UNREAD_LIMIT)
        return [
            UnreadReview(
                review_id=review.id,
                call_id=review.call_id,
                score=quick_score(review, review.form_id if key == QUICK_FORM_KEY else None),
                comment=review.comment,
                by=by or "",
                created_at=review.created_at,
                started_at=started_at,
                number=number,
                number_display=display_number(number, self.region),
            )
            for review, key, started_at, number, by in rows
        ]

    async def seen(self, user: User, review_id: int) -> None:
        if not await self.repo.mark_seen(user.id, review_id, datetime.now(UTC)):
            raise NotFound(f"you have no review {review_id}")
