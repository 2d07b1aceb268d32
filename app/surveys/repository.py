"""Survey answers' SQL: storing them (once per call and question), the calls owed an SMS
link, and CSAT grouped as the reports group calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallCustomer, Customer, SmsMessage, SurveyAnswer, User


class SurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def call_by_linkedid(self, pbx: str, linkedid: str) -> Call | None:
        stmt = select(Call).where(Call.pbx == pbx, Call.linkedid == linkedid)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def store(self, call: Call, answers: dict[int, int], channel: str) -> list[SurveyAnswer]:
        """The answers (question -> score); a question answered already keeps its first
        answer (a caller pressing on after the dialplan's CURL, a link opened twice). The
        rows stored now."""
        if not answers:
            return []
        stmt = (
            insert(SurveyAnswer)
            .values(
                [
                    {
                        "call_id": call.id,
                        "question": q,
                        "score": s,
                        "agent_user_id": call.answered_by_user_id,
                        "queue": call.queue,
                        "channel": channel,
                    }
                    for q, s in sorted(answers.items())
                ]
            )
            .on_conflict_do_nothing(index_elements=["call_id", "question"])
            .returning(SurveyAnswer)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def customer_of(self, call_id: int) -> int | None:
        stmt = (
            select(CallCustomer.customer_id)
            .where(CallCustomer.call_id == call_id)
            .order_by(CallCustomer.customer_id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_call(self, call_id: int) -> list[SurveyAnswer]:
        stmt = (
            select(SurveyAnswer)
            .where(SurveyAnswer.call_id == call_id)
            .order_by(SurveyAnswer.question)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def owed_links(self, ended_from: datetime, ended_to: datetime, limit: int) -> list[Any]:
        """Answered inbound calls that ended in the window with no survey answer and no
        survey link queued: (call id, number, agent's name, customer id, customer name)."""
        customer = (
            select(CallCustomer.customer_id)
            .where(CallCustomer.call_id == Call.id)
            .order_by(CallCustomer.customer_id)
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            select(
                Call.id,
                Call.customer_e164,
                func.coalesce(func.nullif(User.full_name, ""), User.username, ""),
                customer.label("customer_id"),
            )
            .join(User, User.id == Call.answered_by_user_id, isouter=True)
            .where(
                Call.direction == "inbound",
                Call.outcome == "answered",
                Call.customer_e164.is_not(None),
                Call.ended_at >= ended_from,
                Call.ended_at < ended_to,
                ~exists().where(SurveyAnswer.call_id == Call.id),
                ~exists().where(SmsMessage.idempotency_key == func.concat("survey_link:", Call.id)),
            )
            .order_by(Call.ended_at)
            .limit(limit)
        )
        rows = list((await self.session.execute(stmt)).all())
        ids = [r[3] for r in rows if r[3] is not None]
        names: dict[int, str] = {}
        if ids:
            found = await self.session.execute(
                select(Customer.id, Customer.name).where(Customer.id.in_(ids))
            )
            names = {i: n for i, n in found.all()}
        return [(c, n, a, cu, names.get(cu or 0, "")) for c, n, a, cu in rows]

    async def csat(
        self, start: datetime, end: datetime, key: Any, *, queue: str | None, agent_id: int | None
    ) -> list[dict[str, Any]]:
        conds = [SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end]
        if queue is not None:
            conds.append(SurveyAnswer.queue == queue)
        if agent_id is not None:
            conds.append(SurveyAnswer.agent_user_id == agent_id)
        group = key.label("key")
        stmt = (
            select(
                group,
                func.count().label("answers"),
                func.count(func.distinct(SurveyAnswer.call_id)).label("calls"),
                func.count().filter(SurveyAnswer.score >= 4).label("satisfied"),
                func.avg(SurveyAnswer.score).label("avg"),
                func.avg(SurveyAnswer.score).filter(SurveyAnswer.question == 1).label("q1"),
                func.avg(SurveyAnswer.score).filter(SurveyAnswer.question == 2).label("q2"),
            )
            .where(and_(*conds))
            .group_by(group)
            .order_by(group)
        )
        return [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]

    async def names(self, ids: list[Any]) -> dict[Any, str]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        stmt = select(User.id, User.full_name, User.username).where(User.id.in_(wanted))
        return {i: f or u for i, f, u in (await self.session.execute(stmt)).all()}
