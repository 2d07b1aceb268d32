from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import Call, CallLeg, SpySession, User


class SupervisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user(self, user_id: int) -> User | None:
        stmt = select(User).where(User.id == user_id).options(selectinload(User.devices))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def live_legs(self, user_id: int) -> list[tuple[CallLeg, Call]]:
        """The agent's legs that are still up, on calls still live, newest first."""
        stmt = (
            select(CallLeg, Call)
            .join(Call, Call.id == CallLeg.call_id)
            .where(
                CallLeg.user_id == user_id,
                CallLeg.ended_at.is_(None),
                Call.outcome == "live",
            )
            .order_by(CallLeg.created_at.desc())
        )
        return [(leg, call) for leg, call in (await self.session.execute(stmt)).all()]

    async def add(self, spy: SpySession) -> SpySession:
        self.session.add(spy)
        await self.session.flush()
        return spy

    async def get(self, spy_id: int) -> SpySession | None:
        return await self.session.get(SpySession, spy_id)

    async def by_refs(self, refs: Sequence[str]) -> dict[str, SpySession]:
        if not refs:
            return {}
        stmt = select(SpySession).where(SpySession.ref.in_(list(refs)))
        return {s.ref: s for s in (await self.session.execute(stmt)).scalars()}

    async def active_on(self, channels: Sequence[tuple[str, str]]) -> list[SpySession]:
        """Sessions still running on these (pbx, supervisor's channel Uniqueid)."""
        if not channels:
            return []
        stmt = select(SpySession).where(
            tuple_(SpySession.pbx, SpySession.uniqueid).in_(list(channels)),
            SpySession.ended_at.is_(None),
        )
        return list((await self.session.execute(stmt)).scalars())

    async def page(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        supervisor_id: int | None = None,
        agent_id: int | None = None,
        since: datetime | None = None,
    ) -> list[SpySession]:
        stmt = select(SpySession).order_by(SpySession.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(SpySession.id < before_id)
        if supervisor_id is not None:
            stmt = stmt.where(SpySession.supervisor_user_id == supervisor_id)
        if agent_id is not None:
            stmt = stmt.where(SpySession.agent_user_id == agent_id)
        if since is not None:
            stmt = stmt.where(SpySession.requested_at >= since)
        return list((await self.session.execute(stmt)).scalars())
