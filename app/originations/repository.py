from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallLeg, Customer, Origination


class OriginationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, origination: Origination) -> Origination:
        self.session.add(origination)
        await self.session.flush()
        return origination

    async def get(self, origination_id: int) -> Origination | None:
        return await self.session.get(Origination, origination_id)

    async def by_refs(self, refs: Sequence[str]) -> dict[str, Origination]:
        if not refs:
            return {}
        stmt = select(Origination).where(Origination.ref.in_(sorted(set(refs))))
        return {o.ref: o for o in (await self.session.execute(stmt)).scalars()}

    async def count_since(self, user_id: int, since: datetime) -> tuple[int, datetime | None]:
        """How many click-to-calls the user started since ``since``, and the oldest of them."""
        stmt = select(func.count(), func.min(Origination.created_at)).where(
            Origination.user_id == user_id, Origination.created_at >= since
        )
        count, oldest = (await self.session.execute(stmt)).one()
        return int(count), oldest

    async def customer(self, customer_id: int) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def pending(self, user_id: int, since: datetime) -> Origination | None:
        """The user's newest click-to-call started since ``since`` that has not reached the
        customer yet (requested, the agent's phone or the customer's ringing)."""
        stmt = (
            select(Origination)
            .where(
                Origination.user_id == user_id,
                Origination.created_at >= since,
                Origination.state.in_(("requested", "agent_ringing", "dialling")),
            )
            .order_by(Origination.created_at.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def live_call_of(self, user_id: int, since: datetime) -> Call | None:
        """A call still up (started since ``since``) that the user is talking on: one of
        their legs answered and not ended, or answered by them with no leg of theirs ended
        (a caller left on alone for the post-call survey, or transferred on, is not theirs
        any more)."""

        def leg(ended: bool) -> Any:
            return exists().where(
                CallLeg.call_id == Call.id,
                CallLeg.user_id == user_id,
                CallLeg.answered_at.is_not(None),
                CallLeg.ended_at.is_not(None) if ended else CallLeg.ended_at.is_(None),
            )

        stmt = (
            select(Call)
            .where(
                Call.outcome == "live",
                Call.started_at >= since,
                or_(leg(False), and_(Call.answered_by_user_id == user_id, ~leg(True))),
            )
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
