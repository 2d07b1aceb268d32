from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.history.filters import HistoryFilter
from app.models import Call, CallCustomer, CallLeg, Recording, TrackingCode, TrackingCodeCall


def history_query(f: HistoryFilter) -> Select[Call]:
    """The calls matching ``f``, in its order (id breaks ties), after its cursor."""
    stmt = select(Call)
    conds: list[Any] = []
    if f.start is not None:
        conds.append(Call.started_at >= f.start)
    if f.end is not None:
        conds.append(Call.started_at < f.end)
    if f.agent_id is not None:
        conds.append(Call.answered_by_user_id == f.agent_id)
    if f.queue:
        conds.append(Call.queue == f.queue)
    if f.direction:
        conds.append(Call.direction == f.direction)
    if f.outcomes:
        conds.append(Call.outcome.in_(f.outcomes))
    if f.missed_reasons:
        conds.append(Call.missed_reason.in_(f.missed_reasons))
    if f.customer_id is not None:
        conds.append(
            exists().where(
                CallCustomer.call_id == Call.id, CallCustomer.customer_id == f.customer_id
            )
        )
    if f.number:
        by_number = [Call.customer_number == f.number, Call.caller_number == f.number]
        if f.e164:
            by_number.append(Call.customer_e164 == f.e164)
        conds.append(or_(*by_number))
    if f.tracking_code:
        conds.append(
            exists().where(
                TrackingCodeCall.call_id == Call.id,
                TrackingCodeCall.tracking_code_id == TrackingCode.id,
                TrackingCode.code == f.tracking_code,
            )
        )
    if f.min_talk is not None:
        conds.append(Call.talk_seconds >= f.min_talk)
    if f.max_talk is not None:
        conds.append(Call.talk_seconds <= f.max_talk)
    if f.has_recording is not None:
        recorded = exists().where(
            Recording.call_id == Call.id, Recording.state.in_(("available", "pending"))
        )
        conds.append(recorded if f.has_recording else ~recorded)
    if f.disposition:
        conds.append(Call.disposition == f.disposition)
    if f.only_user_id is not None:
        conds.append(
            or_(
                Call.answered_by_user_id == f.only_user_id,
                # OFFSET 0 keeps PostgreSQL from turning this into a hashed subplan: that
                # would read every leg the agent ever had (hundreds of thousands after a few
                # years) before the first row, where probing the few legs of each call met
                # while walking the newest calls stops after a page.
                exists(
                    select(CallLeg.id)
                    .where(CallLeg.call_id == Call.id, CallLeg.user_id == f.only_user_id)
                    .offset(0)
                ),
            )
        )
    column = {
        "started_at": Call.started_at,
        "talk_seconds": Call.talk_seconds,
        "wait_seconds": Call.wait_seconds,
    }[f.sort]
    if f.after is not None:
        raw, last_id = f.after
        value: Any = datetime.fromisoformat(str(raw)) if f.sort == "started_at" else raw
        key = tuple_(column, Call.id)
        conds.append(key > tuple_(value, last_id) if f.ascending else key < tuple_(value, last_id))
    if conds:
        stmt = stmt.where(and_(*conds))
    order = (column.asc(), Call.id.asc()) if f.ascending else (column.desc(), Call.id.desc())
    return stmt.order_by(*order)


class HistoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, f: HistoryFilter, limit: int) -> Sequence[Call]:
        return (await self.session.execute(history_query(f).limit(limit))).scalars().all()

    async def stream(self, f: HistoryFilter) -> AsyncIterator[Call]:
        """Every matching call, through a server-side cursor (nothing held in memory)."""
        result = await self.session.stream_scalars(
            history_query(f).execution_options(yield_per=1000)
        )
        async for call in result:
            yield call
