"""QA: forms (admins define them), reviews (supervisors fill them in while listening to the
call's recording; the agent sees theirs and acknowledges or disputes each), score trends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.deps import AdminUser, AgentUser, SessionDep, SettingsDep, SupervisorUser, has_role
from app.history.filters import day_bounds
from app.models import QaForm, QaReview, Role
from app.schemas import DbId, Input
from app.supervision.qa import FormDefinition
from app.supervision.qa_service import QaService, review_message
from screenpop.service import PopService

router = APIRouter(prefix="/api/supervision/qa", tags=["quality review"])


class FormRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str | None
    name: str
    description: str
    sections: list[dict[str, Any]]
    is_active: bool


class FormUpdate(FormDefinition):
    is_active: bool = True


class ReviewIn(Input):
    form_id: DbId
    call_id: DbId
    answers: dict[str, bool | int | None] = Field(
        description="question key -> true/false (yes/no), 1-5 (scale), or null (not "
        "applicable; a critical question must be answered)",
        max_length=1000,
    )
    comment: str = Field(default="", max_length=4000)


class Response(Input):
    comment: str = Field(default="", max_length=2000)


class QaReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    form_id: int
    call_id: int
    reviewer_user_id: int | None
    agent_user_id: int | None
    sections: list[dict[str, Any]]
    answers: dict[str, Any]
    score: float = Field(description="0-100; 0 when a critical question failed")
    raw_score: float = Field(description="the weighted score, critical questions aside")
    failed: bool
    comment: str
    status: str
    agent_comment: str
    created_at: datetime
    responded_at: datetime | None


@router.get("/forms", response_model=list[FormRead])
async def forms(session: SessionDep, user: AgentUser, all: bool = False) -> list[QaForm]:
    """The QA forms in use (`all=true`: retired ones too, for supervisors)."""
    return await QaService(session).forms(active_only=not (all and has_role(user, Role.supervisor)))


@router.post("/forms", status_code=status.HTTP_201_CREATED, response_model=FormRead)
async def create_form(body: FormDefinition, session: SessionDep, user: AdminUser) -> QaForm:
    """A new form: sections of questions, each yes/no or 1-5, with a weight; a critical
    question answered no (or 1) fails the review whatever the rest."""
    return await QaService(session).create_form(body, user)


@router.put("/forms/{form_id}", response_model=FormRead)
async def update_form(form_id: DbId, body: FormUpdate, session: SessionDep, _: AdminUser) -> QaForm:
    """Change a form, or retire it (`is_active: false`). Reviews made with it keep the
    questions they were made with."""
    return await QaService(session).update_form(form_id, body, body.is_active)


@router.post("/reviews", status_code=status.HTTP_201_CREATED, response_model=QaReviewRead)
async def review(
    body: ReviewIn, session: SessionDep, settings: SettingsDep, user: SupervisorUser
) -> QaReview:
    """Review a call with a form. The agent who took it sees the review at once."""
    service = QaService(session)
    made, call = await service.review(user, body.call_id, body.form_id, body.answers, body.comment)
    form = await service.form(made.form_id)
    await PopService(session, settings.default_region).add(
        review_message(made, call, user, form, settings.default_region)
    )
    return made


@router.get("/reviews", response_model=list[QaReviewRead])
async def reviews(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    agent: DbId | None = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[QaReview]:
    """Reviews, newest first: agents get their own."""
    start, end = day_bounds(from_, to, settings.time_zone)
    return await QaService(session).page(user, agent_id=agent, start=start, end=end, limit=limit)


@router.get("/reviews/{review_id}", response_model=QaReviewRead)
async def get_review(review_id: DbId, session: SessionDep, user: AgentUser) -> QaReview:
    """One review (agents: their own)."""
    return await QaService(session).get(user, review_id)


@router.post("/reviews/{review_id}/acknowledge", response_model=QaReviewRead)
async def acknowledge(
    review_id: DbId, body: Response, session: SessionDep, user: AgentUser
) -> QaReview:
    """The reviewed agent has read the review (and may say something)."""
    return await QaService(session).respond(user, review_id, "acknowledged", body.comment)


@router.post("/reviews/{review_id}/dispute", response_model=QaReviewRead)
async def dispute(
    review_id: DbId, body: Response, session: SessionDep, user: AgentUser
) -> QaReview:
    """The reviewed agent disagrees, and says why."""
    return await QaService(session).respond(user, review_id, "disputed", body.comment)


@router.get("/trend")
async def trend(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=40)],
    to: Annotated[str, Query(min_length=1, max_length=40)],
    agent: DbId | None = None,
    by: Literal["day", "week", "month"] = "week",
) -> dict[str, Any]:
    """An agent's QA score over time: per day, week or month, the reviews, their mean score
    and how many failed on a critical question. Agents get their own."""
    start, end = day_bounds(from_, to, settings.time_zone)
    assert start is not None and end is not None
    if agent is None or not has_role(user, Role.supervisor):
        agent = user.id
    rows = await QaService(session).trend(agent, start, end, settings.time_zone, by)
    return {"agent": agent, "by": by, "rows": rows}
