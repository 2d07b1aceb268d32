"""The call history for supervisors (agents: their own calls), its CSV export, and
supervisors' reviews of calls."""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.audit.service import AuditService
from app.calls.schemas import CallPage, call_read
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.deps import (
    AgentUser,
    ClientAddress,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
    SupervisorUser,
    has_role,
)
from app.errors import InvalidInput
from app.history.filters import (
    HistoryFilter,
    SortKey,
    day_bounds,
    decode_cursor,
    encode_cursor,
    number_filter,
)
from app.history.repository import HistoryRepository
from app.models import Call, QaReview, Role, User
from app.schemas import DbId, Input
from app.supervision.qa_service import QaService, quick_score, review_message
from app.tracking.codes import BadCode, parse
from recordings.schemas import RecordingBrief
from recordings.service import RecordingService
from screenpop.service import PopService

router = APIRouter(tags=["call history"])

Outcome = Literal["answered", "missed", "abandoned", "busy", "no_answer", "failed", "live"]
Reason = Literal["no_answer", "declined", "busy"]
_SORTS = ("started_at", "talk_seconds", "wait_seconds")


class HistoryParams:
    """The history's filters, shared by the list and the export."""

    def __init__(
        self,
        from_: Annotated[
            str | None,
            Query(
                alias="from",
                max_length=40,
                description="a day (2026-11-23 or Jalali 1405-09-02, in TAMAS_TIME_ZONE) or "
                "an ISO time",
            ),
        ] = None,
        to: Annotated[
            str | None, Query(max_length=40, description="the last day, inclusive")
        ] = None,
        agent: Annotated[DbId | None, Query(description="the user who answered")] = None,
        queue: Annotated[str | None, Query(max_length=80)] = None,
        direction: Annotated[Literal["inbound", "outbound", "internal"] | None, Query()] = None,
        outcome: Annotated[list[Outcome] | None, Query(description="repeat for several")] = None,
        missed_reason: Annotated[
            list[Reason] | None,
            Query(description="missed inbound calls for these reasons (repeat for several)"),
        ] = None,
        customer: Annotated[DbId | None, Query()] = None,
        number: Annotated[str | None, Query(max_length=64, description="any format")] = None,
        tracking_code: Annotated[str | None, Query(max_length=40)] = None,
        min_talk: Annotated[float | None, Query(ge=0, description="talk seconds")] = None,
        max_talk: Annotated[float | None, Query(ge=0)] = None,
        has_recording: bool | None = None,
        disposition: Annotated[str | None, Query(max_length=40)] = None,
        sort: Annotated[
            str,
            Query(
                max_length=20,
                description="started_at, talk_seconds or wait_seconds; a leading '-' for "
                "newest/longest first (default -started_at)",
            ),
        ] = "-started_at",
    ) -> None:
        self.from_, self.to, self.agent, self.queue = from_, to, agent, queue
        self.direction, self.outcome, self.customer, self.number = (
            direction,
            outcome,
            customer,
            number,
        )
        self.tracking_code, self.min_talk, self.max_talk = tracking_code, min_talk, max_talk
        self.has_recording, self.disposition, self.sort = has_recording, disposition, sort
        self.missed_reason = missed_reason

    def build(self, user: User, settings: Settings, cursor: str | None = None) -> HistoryFilter:
        start, end = day_bounds(self.from_, self.to, settings.time_zone)
        raw, e164 = number_filter(self.number, settings.default_region)
        code = None
        if self.tracking_code:
            try:
                code = parse(self.tracking_code)
            except BadCode as exc:
                raise InvalidInput(str(exc), field="tracking_code") from None
        key = self.sort.lstrip("-")
        if key not in _SORTS:
            raise InvalidInput("sort by started_at, talk_seconds or wait_seconds", field="sort")
        sort: SortKey = key  # type: ignore[assignment]
        return HistoryFilter(
            start=start,
            end=end,
            agent_id=self.agent,
            queue=self.queue,
            direction=self.direction,
            outcomes=tuple(self.outcome or ()),
            missed_reasons=tuple(self.missed_reason or ()),
            customer_id=self.customer,
            number=raw,
            e164=e164,
            tracking_code=code,
            min_talk=self.min_talk,
            max_talk=self.max_talk,
            has_recording=self.has_recording,
            disposition=self.disposition,
            sort=sort,
            ascending=not self.sort.startswith("-"),
            only_user_id=None if has_role(user, Role.supervisor) else user.id,
            after=decode_cursor(cursor) if cursor else None,
        )


async def _history_params(**filters: Any) -> HistoryParams:
    return HistoryParams(**filters)


# The query parameters are HistoryParams.__init__'s; a coroutine rather than the class as
# the dependency, which FastAPI would call in a worker thread.
_history_params.__signature__ = inspect.signature(HistoryParams).replace(  # type: ignore[attr-defined]
    return_annotation="HistoryParams"
)
Params = Annotated[HistoryParams, Depends(_history_params)]


@router.get("/api/history", response_model=CallPage)
async def history(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    params: Params,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CallPage:
    """Calls, filtered and sorted, a page at a time (keyset pagination: `next_cursor` stays
    fast deep into the list). Supervisors see every call; agents their own."""
    f = params.build(user, settings, cursor)
    rows = list(await HistoryRepository(session).page(f, limit + 1))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        value: Any = getattr(rows[-1], f.sort)
        value = value.isoformat() if isinstance(value, datetime) else value
        next_cursor = encode_cursor(value, rows[-1].id)
    files = await RecordingService(session, settings).playable_by(user, [c.id for c in rows])
    items = []
    for call in rows:
        item = call_read(call, settings.default_region)
        item.recording_files = [RecordingBrief.model_validate(r) for r in files.get(call.id, [])]
        items.append(item)
    return CallPage(items=items, next_cursor=next_cursor)


EXPORT_COLUMNS = (
    "id",
    "started_at",
    "direction",
    "customer_number",
    "caller_name",
    "queue",
    "answered_by",
    "outcome",
    "missed_reason",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "disposition",
    "hung_up_by",
    "hangup_cause_text",
    "did",
    "pbx",
    "linkedid",
)


async def _csv(sessionmaker: SessionMaker, f: HistoryFilter, tz: str) -> AsyncIterator[bytes]:
    zone = ZoneInfo(tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # A BOM: Excel then reads the file as UTF-8 (Persian names intact).
    yield "\ufeff".encode()
    writer.writerow(EXPORT_COLUMNS)
    async with sessionmaker() as session:
        count = 0
        async for call in HistoryRepository(session).stream(f):
            writer.writerow([_cell(call, c, zone) for c in EXPORT_COLUMNS])
            count += 1
            if count % 500 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


def _cell(call: Call, column: str, zone: ZoneInfo) -> Any:
    value = getattr(call, column)
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and column != "customer_number":
        return "'" + value  # no formulas from caller names in a spreadsheet
    return value


@router.get(
    "/api/history/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_history(
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
    user: SupervisorUser,
    params: Params,
    client: ClientAddress,
) -> StreamingResponse:
    """The filtered history as CSV (UTF-8 with a BOM, so Excel shows Persian text), streamed
    from a server-side cursor: a million rows never sit in memory. Times in TAMAS_TIME_ZONE.
    Audited with its filters."""
    f = params.build(user, settings)
    # Committed before the first row leaves: the stream has a transaction of its own.
    async with unit_of_work(sessionmaker) as audit_session:
        await AuditService(audit_session).record(
            "history_export",
            user,
            address=client,
            filters={k.rstrip("_"): v for k, v in vars(params).items() if v is not None},
        )
    stamp = datetime.now(ZoneInfo(settings.time_zone)).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        _csv(sessionmaker, f, settings.time_zone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.csv"'},
    )


class ReviewIn(Input):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class ReviewRead(BaseModel):
    id: int
    call_id: int
    reviewer_user_id: int | None
    agent_user_id: int | None
    score: int = Field(description="1 to 5 (a QA form's percentage put on that scale)")
    comment: str
    created_at: datetime
    form_id: int
    percent: float = Field(description="the QA score, 0-100 (0 when a critical question failed)")
    failed: bool
    status: str = Field(description="submitted, acknowledged or disputed by the agent")


def review_read(review: QaReview, quick_form_id: int | None) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        call_id=review.call_id,
        reviewer_user_id=review.reviewer_user_id,
        agent_user_id=review.agent_user_id,
        score=quick_score(review, quick_form_id),
        comment=review.comment,
        created_at=review.created_at,
        form_id=review.form_id,
        percent=review.score,
        failed=review.failed,
        status=review.status,
    )


@router.post(
    "/api/calls/{call_id}/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewRead
)
async def review_call(
    call_id: DbId, body: ReviewIn, session: SessionDep, settings: SettingsDep, user: SupervisorUser
) -> ReviewRead:
    """A supervisor's quick feedback on a call (a score from 1 to 5 and a comment): a QA
    review with the built-in "call score" form (full forms: `POST /api/supervision/qa/
    reviews`). The agent who took the call sees it on their panel at once."""
    service = QaService(session)
    quick = await service.quick_form()
    review, call = await service.review(
        user, call_id, quick.id, {"score": body.score}, body.comment
    )
    await PopService(session, settings.default_region).add(
        review_message(review, call, user, quick, settings.default_region)
    )
    return review_read(review, quick.id)


@router.get("/api/calls/{call_id}/reviews", response_model=list[ReviewRead])
async def call_reviews(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[ReviewRead]:
    """The reviews of a call: agents see those of their own calls."""
    await RecordingService(session, settings).call_for_user(user, call_id)
    service = QaService(session)
    quick = await service.quick_form()
    return [review_read(r, quick.id) for r in await service.of_call(call_id)]
