"""KPI reports over stored calls, with the definitions QueueMetrics/Asternic users know.

- offered: inbound calls in the group (for a queue: calls that entered it);
- answered; abandoned (the caller hung up waiting) — those that gave up within
  ``short_abandon_seconds`` are counted apart as ``short_abandoned`` and left out of
  abandoned and of the service level's base;
- missed: inbound calls nobody served that the caller did not abandon, whatever the
  reason, and apart by reason: ``missed_no_answer`` (nobody picked up: ring or queue
  timeout), ``missed_declined`` (an agent's phone rang and was refused), ``missed_busy``
  (an agent's line refused it without ringing);
- service level: answered within ``service_level_seconds`` of waiting, in % of
  (offered - short abandoned);
- ASA (average speed of answer): mean wait of answered calls; longest wait: of all calls;
- average talk and handle time (talk + hold) of answered calls;
- callbacks done: callbacks closed in the period (by queue: the callback's queue; by agent:
  the agent who placed the answered call back).
Groups: queue, agent (who answered), day, hour, week (weeks start on Saturday, as in Iran,
or Monday), in the configured time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, Callback, User
from telephony.model import MISSED_REASONS

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
        inbound = Call.direction == "inbound"
        answered = and_(inbound, Call.outcome == "answered")
        abandoned = and_(inbound, Call.outcome == "abandoned")
        short = and_(abandoned, Call.wait_seconds < q.short_abandon_seconds)
        long_abandon = and_(abandoned, Call.wait_seconds >= q.short_abandon_seconds)
        missed = and_(inbound, Call.outcome == "missed")
        in_sl = and_(answered, Call.wait_seconds <= q.service_level_seconds)

        def count(cond: Any) -> Any:
            return func.count().filter(cond)

        def avg(column: Any, cond: Any) -> Any:
            return func.avg(column).filter(cond)

        group = _group(q).label("key")
        conds = [Call.started_at >= q.start, Call.started_at < q.end, Call.outcome != "live"]
        if q.queue is not None:
            conds.append(Call.queue == q.queue)
        if q.agent_id is not None:
            conds.append(Call.answered_by_user_id == q.agent_id)
        if q.by == "queue":
            conds.append(Call.queue != "")
        if q.by == "agent":
            conds.append(Call.answered_by_user_id.is_not(None))
        stmt = (
            select(
                group,
                count(inbound).label("offered"),
                count(answered).label("answered"),
                count(long_abandon).label("abandoned"),
                count(short).label("short_abandoned"),
                count(missed).label("missed"),
                *(
                    count(and_(missed, Call.missed_reason == reason)).label(f"missed_{reason}")
                    for reason in MISSED_REASONS
                ),
                count(in_sl).label("answered_in_sl"),
                avg(Call.wait_seconds, answered).label("asa"),
                func.max(Call.wait_seconds).filter(inbound).label("longest_wait"),
                avg(Call.talk_seconds, answered).label("avg_talk"),
                avg(Call.talk_seconds + Call.hold_seconds, answered).label("avg_handle"),
                count(Call.direction == "outbound").label("outbound"),
                count(and_(Call.direction == "outbound", Call.outcome == "answered")).label(
                    "outbound_answered"
                ),
                func.sum(Call.talk_seconds).filter(Call.outcome == "answered").label("talk_total"),
            )
            .where(*conds)
            .group_by(group)
            .order_by(group)
        )
        rows = [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]
        callbacks = await self._callbacks(q)
        names = await self._names([r["key"] for r in rows]) if q.by == "agent" else {}
        out = []
        for r in rows:
            base = r["offered"] - r["short_abandoned"]
            out.append(
                {
                    "key": r["key"] if r["key"] is not None else "",
                    "label": names.get(r["key"], str(r["key"] or "")),
                    "offered": r["offered"],
                    "answered": r["answered"],
                    "abandoned": r["abandoned"],
                    "short_abandoned": r["short_abandoned"],
                    "missed": r["missed"],
                    **{f"missed_{reason}": r[f"missed_{reason}"] for reason in MISSED_REASONS},
                    "service_level_pct": round(100.0 * r["answered_in_sl"] / base, 1)
                    if base
                    else None,
                    "asa_seconds": _round(r["asa"]),
                    "longest_wait_seconds": _round(r["longest_wait"]),
                    "avg_talk_seconds": _round(r["avg_talk"]),
                    "avg_handle_seconds": _round(r["avg_handle"]),
                    "talk_total_seconds": _round(r["talk_total"]) or 0.0,
                    "outbound": r["outbound"],
                    "outbound_answered": r["outbound_answered"],
                    "callbacks_done": callbacks.get(r["key"], 0),
                }
            )
        return out

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


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
