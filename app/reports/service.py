"""KPI reports over stored calls, with the definitions QueueMetrics/Asternic users know,
written once in :mod:`app.reports.definitions` (read there what each figure counts).

Groups: queue (calls that reached no queue in a row of their own, key ""), agent (each
agent the call was offered to: it rang their phone, or they answered it), day, hour, week
(weeks start on Saturday, as in Iran, or Monday), in the configured time zone. Every report
also has its ``total``: the same figures over all its calls, each counted once (an agent's
report: theirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, Callback, CallLeg, User
from app.reports.definitions import Figures, Thresholds, figures

GroupBy = Literal["queue", "agent", "day", "hour", "week"]


@dataclass(frozen=True)
class ReportQuery:
    start: datetime
    end: datetime
    by: GroupBy
    tz: str
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    queue: str | None = None
    agent_id: int | None = None
    week_starts: Literal["saturday", "monday"] = "saturday"


def _group(q: ReportQuery) -> Any:
    local = func.timezone(q.tz, Call.started_at)
    if q.by == "queue":
        return Call.queue
    if q.by == "agent":
        return Call.answered_by_user_id
    if q.by == "day":
        return func.to_char(func.date_trunc("day", local), "YYYY-MM-DD")
    if q.by == "hour":
        return func.to_char(func.date_trunc("hour", local), "YYYY-MM-DD HH24:00")
    day = func.date_trunc("day", local)
    # PostgreSQL weeks start on Monday; Iranian weeks on Saturday.
    shift = 2 if q.week_starts == "saturday" else 0
    start = func.date_trunc("week", day + func.make_interval(0, 0, 0, shift)) - func.make_interval(
        0, 0, 0, shift
    )
    return func.to_char(start, "YYYY-MM-DD")


class ReportService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def kpi(self, q: ReportQuery) -> list[dict[str, Any]]:
        """The report's rows, one per group."""
        return (await self.report(q))[0]

    async def report(self, q: ReportQuery) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The report's rows, one per group, and its total (every call once)."""
        thresholds = Thresholds(q.service_level_seconds, q.short_abandon_seconds)
        when = [Call.started_at >= q.start, Call.started_at < q.end, Call.outcome != "live"]
        if q.queue is not None:
            when.append(Call.queue == q.queue)
        per_agent = q.by == "agent" or q.agent_id is not None
        if per_agent:
            pairs = _offered_to(when)
            agent = pairs.c.user_id
            base = select().select_from(pairs).join(Call, Call.id == pairs.c.call_id)
            if q.agent_id is not None:
                base = base.where(agent == q.agent_id)
            measured = Figures(thresholds, agent)
        else:
            agent = None
            base = select().select_from(Call).where(*when)
            measured = Figures(thresholds)
        group = (agent if q.by == "agent" else _group(q)).label("key")
        stmt = base.add_columns(group, *measured.columns()).group_by(group).order_by(group)
        rows = [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]
        # The total: each call once (a team's calls offered to several agents counted once).
        if q.agent_id is None:
            total_stmt = select(*Figures(thresholds).columns()).where(*when)
        else:
            total_stmt = base.add_columns(*measured.columns())
        total = dict((await self.session.execute(total_stmt)).one()._mapping)
        callbacks = await self._callbacks(q)
        names = await self._names([r["key"] for r in rows]) if q.by == "agent" else {}
        out = []
        for r in rows:
            key = r["key"] if r["key"] is not None else ""
            out.append(
                {
                    "key": key,
                    "label": names.get(r["key"], str(key)),
                    **figures(r),
                    "callbacks_done": callbacks.get(r["key"], 0),
                }
            )
        return out, {**figures(total), "callbacks_done": sum(callbacks.values())}

    async def _callbacks(self, q: ReportQuery) -> dict[Any, int]:
        if q.by not in ("queue", "day", "hour", "week", "agent"):
            return {}
        local = func.timezone(q.tz, Callback.done_at)
        key: Any
        if q.by == "queue":
            key = Callback.queue
        elif q.by == "agent":
            key = Call.answered_by_user_id
        elif q.by == "day":
            key = func.to_char(func.date_trunc("day", local), "YYYY-MM-DD")
        elif q.by == "hour":
            key = func.to_char(func.date_trunc("hour", local), "YYYY-MM-DD HH24:00")
        else:
            return {}
        stmt = (
            select(key, func.count())
            .select_from(Callback)
            .where(Callback.status == "done", Callback.done_at >= q.start, Callback.done_at < q.end)
        )
        if q.by == "agent":
            stmt = stmt.join(Call, Call.id == Callback.done_call_id)
        return {k: n for k, n in (await self.session.execute(stmt.group_by(key))).all()}

    async def _names(self, ids: list[Any]) -> dict[Any, str]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        stmt = select(User.id, User.full_name, User.username).where(User.id.in_(wanted))
        return {i: f or u for i, f, u in (await self.session.execute(stmt)).all()}


def _offered_to(when: list[Any]) -> Any:
    """(call, agent) pairs of the calls matching ``when``: each agent whose phone rang in the
    call or who answered it, once per call."""
    rang = (
        select(CallLeg.call_id.label("call_id"), CallLeg.user_id.label("user_id"))
        .join(Call, Call.id == CallLeg.call_id)
        .where(CallLeg.user_id.is_not(None), *when)
    )
    answered = select(Call.id, Call.answered_by_user_id).where(
        Call.answered_by_user_id.is_not(None), *when
    )
    return union(rang, answered).subquery("offered_to")
