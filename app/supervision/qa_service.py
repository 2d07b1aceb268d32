"""QA reviews: admins define forms; supervisors review calls with them (while listening to
the recording, in the call view); the agent sees each review at once, and acknowledges or
disputes it; scores trend per agent over time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models import Call, QaForm, QaReview, Role, User
from app.models.qa import QUICK_FORM_KEY
from app.phones import display_number
from app.supervision.qa import FormDefinition, ScoreError, score


def quick_score(review: QaReview, quick_form_id: int | None) -> int:
    """A review as the old single 1-5 score: the call-score form's own answer, otherwise
    the percentage put on the same scale."""
    value = review.answers.get("score")
    if review.form_id == quick_form_id and isinstance(value, int):
        return value
    return 1 + round(review.score * 4 / 100)


class QaService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- forms (admins) -----------------------------------------------------------------------

    async def forms(self, *, active_only: bool) -> list[QaForm]:
        stmt = select(QaForm).order_by(QaForm.id)
        if active_only:
            stmt = stmt.where(QaForm.is_active.is_(True))
        return list((await self.session.execute(stmt)).scalars())

    async def form(self, form_id: int) -> QaForm:
        found = await self.session.get(QaForm, form_id)
        if found is None:
            raise NotFound("no such QA form")
        return found

    async def quick_form(self) -> QaForm:
        stmt = select(QaForm).where(QaForm.key == QUICK_FORM_KEY)
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        if found is None:
            raise Conflict("the built-in call-score form is missing (run the migrations)")
        return found

    async def create_form(self, body: FormDefinition, user: User) -> QaForm:
        form = QaForm(
            name=body.name.strip(),
            description=body.description.strip(),
            sections=[s.model_dump() for s in body.sections],
            is_active=True,
            created_by_user_id=user.id,
        )
        self.session.add(form)
        await self.session.flush()
        return form

    async def update_form(self, form_id: int, body: FormDefinition, active: bool) -> QaForm:
        form = await self.form(form_id)
        if form.key is not None:
            raise Conflict("the built-in form cannot be changed", code="built_in_form")
        form.name, form.description = body.name.strip(), body.description.strip()
        form.sections = [s.model_dump() for s in body.sections]
        form.is_active = active
        await self.session.flush()
        return form

    # -- reviews ------------------------------------------------------------------------------

    async def review(
        self,
        reviewer: User,
        call_id: int,
        form_id: int | None,
        answers: dict[str, Any],
        comment: str,
    ) -> tuple[QaReview, Call]:
        call = await self.session.get(Call, call_id)
        if call is None:
            raise NotFound(f"call {call_id} not found", field="call_id")
        form = await (self.form(form_id) if form_id is not None else self.quick_form())
        if not form.is_active:
            raise InvalidInput("that form is no longer in use", field="form_id")
        try:
            scored = score(form.sections, answers)
        except ScoreError as exc:
            raise InvalidInput(str(exc), field=f"answers.{exc.field}") from None
        review = QaReview(
            form_id=form.id,
            call_id=call.id,
            reviewer_user_id=reviewer.id,
            agent_user_id=call.answered_by_user_id,
            sections=form.sections,
            answers=answers,
            score=scored.score,
            raw_score=scored.raw_score,
            failed=scored.failed,
            comment=comment.strip(),
            status="submitted",
            agent_comment="",
        )
        self.session.add(review)
        await self.session.flush()
        return review, call

    async def get(self, user: User, review_id: int) -> QaReview:
        review = await self.session.get(QaReview, review_id)
        if review is None or not _may_see(user, review):
            raise NotFound("no such review")
        return review

    async def of_call(self, call_id: int) -> list[QaReview]:
        stmt = select(QaReview).where(QaReview.call_id == call_id).order_by(QaReview.id)
        return list((await self.session.execute(stmt)).scalars())

    async def page(
        self,
        user: User,
        *,
        agent_id: int | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> list[QaReview]:
        stmt = select(QaReview).order_by(QaReview.created_at.desc(), QaReview.id.desc())
        if user.role == Role.agent.value:
            agent_id = user.id
        if agent_id is not None:
            stmt = stmt.where(QaReview.agent_user_id == agent_id)
        if start is not None:
            stmt = stmt.where(QaReview.created_at >= start)
        if end is not None:
            stmt = stmt.where(QaReview.created_at < end)
        return list((await self.session.execute(stmt.limit(limit))).scalars())

    async def respond(self, user: User, review_id: int, status: str, comment: str) -> QaReview:
        """The reviewed agent acknowledges or disputes (with why) a review, once."""
        review = await self.get(user, review_id)
        if review.agent_user_id != user.id:
            raise PermissionDenied("only the agent reviewed answers a review")
        if review.status != "submitted":
            raise Conflict(f"this review was {review.status} already", code="answered")
        if status == "disputed" and not comment.strip():
            raise InvalidInput("say what you dispute", field="comment")
        review.status, review.agent_comment = status, comment.strip()
        review.responded_at = datetime.now(UTC)
        await self.session.flush()
        return review

    async def trend(
        self, agent_id: int, start: datetime, end: datetime, tz: str, by: str
    ) -> list[dict[str, Any]]:
        """Per day, week (from Monday) or month of the configured zone: reviews, the mean
        score, how many failed on a critical question."""
        bucket = func.to_char(
            func.date_trunc(by, func.timezone(tz, QaReview.created_at)), "YYYY-MM-DD"
        ).label("period")
        stmt = (
            select(
                bucket,
                func.count(),
                func.avg(QaReview.score),
                func.count().filter(QaReview.failed.is_(True)),
            )
            .where(
                QaReview.agent_user_id == agent_id,
                QaReview.created_at >= start,
                QaReview.created_at < end,
            )
            .group_by(bucket)
            .order_by(bucket)
        )
        return [
            {"period": p, "reviews": n, "avg_score": round(float(a), 1), "failed": f}
            for p, n, a, f in (await self.session.execute(stmt)).all()
        ]


def _may_see(user: User, review: QaReview) -> bool:
    return user.role != Role.agent.value or review.agent_user_id == user.id


def review_message(
    review: QaReview, call: Call, reviewer: User, form: QaForm, region: str
) -> list[dict[str, Any]]:
    """The message that shows the reviewed agent their review at once (none when nobody
    answered the call)."""
    if review.agent_user_id is None:
        return []
    return [
        {
            "user_id": review.agent_user_id,
            "pbx": call.pbx,
            "linkedid": f"review-{review.id}",
            "kind": "review",
            "payload": {
                "call_id": call.id,
                "review_id": review.id,
                "score": quick_score(review, form.id if form.key == QUICK_FORM_KEY else None),
                "percent": review.score,
                "failed": review.failed,
                "form": form.name,
                "comment": review.comment,
                "by": reviewer.full_name or reviewer.username,
                "started_at": call.started_at.isoformat(),
                "number": call.customer_number,
                "number_display": display_number(call.customer_number, region),
            },
        }
    ]
