from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallNote, TrackingCode, TrackingCodeCall


class TrackingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, object]) -> TrackingCode | None:
        """The new code, or None when the code is taken (the caller draws another)."""
        stmt = (
            insert(TrackingCode)
            .values(values)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(TrackingCode)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def insert_many(self, rows: list[dict[str, object]]) -> dict[str, int]:
        """New codes, by code -> id; a code already taken is left out (drawn again)."""
        if not rows:
            return {}
        stmt = (
            insert(TrackingCode)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(TrackingCode.code, TrackingCode.id)
        )
        return {code: i for code, i in (await self.session.execute(stmt)).all()}

    async def link_many(self, pairs: list[tuple[int, int]]) -> None:
        if not pairs:
            return
        stmt = insert(TrackingCodeCall).values(
            [{"tracking_code_id": t, "call_id": c} for t, c in pairs]
        )
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def by_code(self, code: str) -> TrackingCode | None:
        stmt = select(TrackingCode).where(TrackingCode.code == code)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def link(self, tracking_code_id: int, call_id: int) -> None:
        stmt = insert(TrackingCodeCall).values(tracking_code_id=tracking_code_id, call_id=call_id)
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def unlink(self, tracking_code_id: int, call_id: int) -> None:
        await self.session.execute(
            delete(TrackingCodeCall).where(
                TrackingCodeCall.tracking_code_id == tracking_code_id,
                TrackingCodeCall.call_id == call_id,
            )
        )

    async def calls_with_codes(self, call_ids: Sequence[int]) -> set[int]:
        if not call_ids:
            return set()
        stmt = select(TrackingCodeCall.call_id).where(
            TrackingCodeCall.call_id.in_(sorted(set(call_ids)))
        )
        return set((await self.session.execute(stmt)).scalars())

    async def calls_of(self, tracking_code_id: int) -> list[Call]:
        stmt = (
            select(Call)
            .join(TrackingCodeCall, TrackingCodeCall.call_id == Call.id)
            .where(TrackingCodeCall.tracking_code_id == tracking_code_id)
            .order_by(Call.started_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def notes_of(self, call_ids: Sequence[int]) -> list[CallNote]:
        if not call_ids:
            return []
        stmt = (
            select(CallNote)
            .where(CallNote.call_id.in_(sorted(set(call_ids))))
            .order_by(CallNote.created_at, CallNote.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def codes_of_calls(self, call_ids: Sequence[int]) -> dict[int, list[TrackingCode]]:
        out: dict[int, list[TrackingCode]] = {c: [] for c in call_ids}
        if not call_ids:
            return out
        stmt = (
            select(TrackingCodeCall.call_id, TrackingCode)
            .join(TrackingCode, TrackingCode.id == TrackingCodeCall.tracking_code_id)
            .where(TrackingCodeCall.call_id.in_(sorted(set(call_ids))))
            .order_by(TrackingCode.id)
        )
        for call_id, code in (await self.session.execute(stmt)).all():
            out[call_id].append(code)
        return out

    async def open_of_customers(self, customer_ids: Sequence[int]) -> dict[int, list[TrackingCode]]:
        out: dict[int, list[TrackingCode]] = {c: [] for c in customer_ids}
        if not customer_ids:
            return out
        stmt = (
            select(TrackingCode)
            .where(
                TrackingCode.customer_id.in_(sorted(set(customer_ids))),
                TrackingCode.status == "open",
            )
            .order_by(TrackingCode.created_at.desc())
        )
        for code in (await self.session.execute(stmt)).scalars():
            assert code.customer_id is not None
            out[code.customer_id].append(code)
        return out
