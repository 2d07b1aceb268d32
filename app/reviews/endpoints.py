from __future__ import annotations

from fastapi import APIRouter, status

from app.deps import AgentUser, SessionDep, SettingsDep
from app.reviews.schemas import UnreadReview
from app.reviews.service import ReviewService
from app.schemas import DbId

router = APIRouter(prefix="/api/reviews", tags=["reviews"])


@router.get("/unread", response_model=list[UnreadReview])
async def unread_reviews(
    session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[UnreadReview]:
    """Supervisors' reviews of your calls you have not dismissed yet (oldest first, at most
    50): the panel shows them as notices when you sign in, also those given while you
    were signed out."""
    return await ReviewService(session, settings.default_region).unread(user)


@router.post("/{review_id}/seen", status_code=status.HTTP_204_NO_CONTENT)
async def review_seen(
    review_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> None:
    """You have read this review of one of your calls: it is no longer unread."""
    await ReviewService(session, settings.default_region).seen(user, review_id)
