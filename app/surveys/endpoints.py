"""Post-call surveys: the dialplan's answers (PBX token), the page an SMS link opens
(signed per call), a call's answers, and CSAT reports."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict

from app.deps import AgentUser, PbxCaller, SessionDep, SettingsDep, has_role
from app.errors import InvalidInput
from app.history.filters import day_bounds
from app.models import Role
from app.pbx.endpoints import Format, _answer
from app.schemas import DbId
from app.surveys.service import CsatBy, SurveyService, parse_answer
from recordings.service import RecordingService

router = APIRouter(tags=["surveys"])

Answer = Annotated[str | None, Query(max_length=8, description="the key pressed, 1 to 5")]


@router.get("/pbx/survey", response_class=PlainTextResponse)
async def pbx_survey(
    session: SessionDep,
    settings: SettingsDep,
    pbx: PbxCaller,
    linkedid: Annotated[
        str, Query(min_length=1, max_length=64, description="${CHANNEL(linkedid)}")
    ],
    q1: Answer = None,
    q2: Answer = None,
    format: Annotated[Format, Query()] = "text",
) -> Response:
    """The caller's survey answers keyed in after the agent hung up ([tamas-survey] in
    asterisk-dev), each one key 1 to 5 (none: not answered). `found` (the call is known),
    `stored` (answers stored now; a question answered already keeps its first answer, so
    a repeated request stores nothing), `valid` (how many answers were 1 to 5), `refused`
    (the questions whose key was not 1 to 5, comma-separated: not stored), `reason` (why
    nothing was stored: no such call, not answered by an agent). A 200 with these rather
    than an error, so that the dialplan reads them; a malformed request (no linkedid, an
    answer longer than 8 characters) is a 422."""
    raw = {1: q1, 2: q2}
    answers = {q: s for q, s in ((q, parse_answer(v)) for q, v in raw.items()) if s is not None}
    refused = [f"q{q}" for q, v in raw.items() if v and v.strip() and q not in answers]
    result = await SurveyService(session, settings).from_pbx(pbx.id, linkedid, answers)
    reason = result.reason or ("no answer 1 to 5" if not answers else "")
    return _answer(
        [
            ("found", "1" if result.found else "0"),
            ("stored", str(result.stored)),
            ("valid", str(len(answers))),
            ("refused", ",".join(refused)),
            ("reason", reason if not result.stored else ""),
        ],
        format,
    )


class AnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    question: int
    score: int
    channel: str
    agent_user_id: int | None
    queue: str


@router.get("/api/calls/{call_id}/survey", response_model=list[AnswerRead])
async def call_survey(
    call_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> list[Any]:
    """The caller's survey answers for this call (question 1 and 2, each 1 to 5)."""
    await RecordingService(session, settings).call_for_user(user, call_id)
    return list(await SurveyService(session, settings).of_call(call_id))


@router.get("/api/reports/csat")
async def csat_report(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    from_: Annotated[
        str,
        Query(alias="from", min_length=1, max_length=40, description="first day (ISO or Jalali)"),
    ],
    to: Annotated[str, Query(min_length=1, max_length=40, description="last day, inclusive")],
    by: Annotated[CsatBy, Query()] = "agent",
    queue: Annotated[str | None, Query(max_length=80)] = None,
    agent: DbId | None = None,
    week_starts: Literal["saturday", "monday"] = "saturday",
) -> dict[str, Any]:
    """Customer satisfaction from the post-call surveys, per agent, queue, day, hour or
    week: `answers`, `calls` surveyed, `satisfied` (answers of 4 or 5), `csat_pct`
    (satisfied / answers), `avg_score`, and each question's average. Agents get their own
    figures only."""
    start, end = day_bounds(from_, to, settings.time_zone)
    assert start is not None and end is not None
    if (end - start).days > 400:
        raise InvalidInput("a report covers at most 400 days", field="to")
    if not has_role(user, Role.supervisor):
        agent = user.id
        if by == "queue":
            by = "agent"
    rows = await SurveyService(session, settings).csat(
        start, end, by, queue=queue, agent_id=agent, week_starts=week_starts
    )
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, "rows": rows}


Token = Annotated[str, Path(min_length=20, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")]

_PAGE = """<!doctype html><html lang="fa" dir="rtl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>نظرسنجی</title>
<style>body{{font-family:Vazirmatn,Tahoma,sans-serif;max-width:28rem;margin:2rem auto;
padding:0 1rem}}
fieldset{{border:1px solid #ccc;margin:1rem 0}}label{{margin-inline-end:1rem}}
button{{font-size:1rem;padding:.5rem 1.5rem}}</style></head><body>{body}</body></html>"""

_QUESTIONS = (
    ("q1", "از پاسخگویی کارشناس چقدر راضی بودید؟", "How satisfied were you with the agent?"),
    ("q2", "مشکل شما چقدر حل شد؟", "How well was your issue resolved?"),
)


def _form(token: str) -> str:
    parts = [f'<form method="post" action="/survey/{html.escape(token)}">']
    for name, fa, en in _QUESTIONS:
        choices = "".join(
            f'<label><input type="radio" name="{name}" value="{i}" required> '
            f"{'۱۲۳۴۵'[i - 1]}</label>"
            for i in range(1, 6)
        )
        parts.append(
            f"<fieldset><legend>{fa}<br><small lang='en' dir='ltr'>{en}</small></legend>"
            f"{choices}</fieldset>"
        )
    parts.append("<p><small>۱ خیلی بد … ۵ عالی / 1 very poor … 5 excellent</small></p>")
    parts.append("<button>ثبت / Send</button></form>")
    return "".join(parts)


@router.get("/survey/{token}", response_class=HTMLResponse, include_in_schema=False)
async def survey_page(token: Token, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The survey an SMS link opens (the link is signed for one call and expires)."""
    call = await SurveyService(session, settings).call_of_link(token)
    answered = await SurveyService(session, settings).of_call(call.id)
    if answered:
        return HTMLResponse(_PAGE.format(body="<p>نظر شما پیش‌تر ثبت شده است. سپاس!</p>"))
    return HTMLResponse(_PAGE.format(body=_form(token)))


@router.post("/survey/{token}", response_class=HTMLResponse, include_in_schema=False)
async def survey_answer(
    token: Token,
    session: SessionDep,
    settings: SettingsDep,
    q1: Annotated[str, Form(max_length=2)],
    q2: Annotated[str | None, Form(max_length=2)] = None,
) -> HTMLResponse:
    answers = {q: s for q, s in ((1, parse_answer(q1)), (2, parse_answer(q2))) if s is not None}
    if 1 not in answers:
        raise InvalidInput("answer the first question with 1 to 5", field="q1")
    await SurveyService(session, settings).from_link(token, answers)
    return HTMLResponse(_PAGE.format(body="<p>نظر شما ثبت شد. سپاس! / Thank you!</p>"))
