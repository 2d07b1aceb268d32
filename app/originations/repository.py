from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Customer, Origination


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
