from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import Call, CallCustomer, CallLeg, CustomerPhone, UserDevice

_CALL_KEY = ["pbx", "linkedid"]


class CallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, values: dict[str, Any]) -> int:
        """Insert or update the call (pbx, linkedid); return its id."""
        stmt = insert(Call).values(**values)
        update: dict[str, Any] = {k: stmt.excluded[k] for k in values if k not in _CALL_KEY}
        update["updated_at"] = func.now()
        upsert = stmt.on_conflict_do_update(index_elements=_CALL_KEY, set_=update)
        return int((await self.session.execute(upsert.returning(Call.id))).scalar_one())

    async def upsert_legs(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = insert(CallLeg).values(list(rows))
        keys = [k for k in rows[0] if k not in ("pbx", "uniqueid")]
        stmt = stmt.on_conflict_do_update(
            index_elements=["pbx", "uniqueid"], set_={k: stmt.excluded[k] for k in keys}
        )
        await self.session.execute(stmt)

    async def link_customers(self, call_id: int, customer_ids: Sequence[int]) -> None:
        if not customer_ids:
            return
        stmt = insert(CallCustomer).values(
            [{"call_id": call_id, "customer_id": cid} for cid in customer_ids]
        )
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def customer_ids_for(self, e164: str) -> list[int]:
        stmt = select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def users_by_device(self, devices: Sequence[str]) -> dict[str, int]:
        if not devices:
            return {}
        stmt = select(UserDevice.device, UserDevice.user_id).where(UserDevice.device.in_(devices))
        return {d: u for d, u in (await self.session.execute(stmt)).all()}

    async def get(self, call_id: int) -> Call | None:
        stmt = select(Call).where(Call.id == call_id).options(selectinload(Call.legs))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def customer_ids_of(self, call_id: int) -> list[int]:
        stmt = select(CallCustomer.customer_id).where(CallCustomer.call_id == call_id)
        return list((await self.session.execute(stmt)).scalars())

    async def timeline(
        self, customer_id: int, *, before: tuple[datetime, int] | None, limit: int
    ) -> Sequence[Call]:
        """A customer's calls, newest first (keyset on started_at, id)."""
        stmt = (
            select(Call)
            .join(CallCustomer, CallCustomer.call_id == Call.id)
            .where(CallCustomer.customer_id == customer_id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(tuple_(Call.started_at, Call.id) < tuple_(*before))
        return (await self.session.execute(stmt)).scalars().all()

    async def export(self, *, since: datetime | None, after_id: int, limit: int) -> Sequence[Call]:
        stmt = select(Call).where(Call.id > after_id).order_by(Call.id).limit(limit)
        if since is not None:
            stmt = stmt.where(Call.started_at >= since)
        return (await self.session.execute(stmt)).scalars().all()
