from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallNote, CaseCategory, CaseSla, TrackingCode, TrackingCodeCall

# For each (call, device that answered it): whether the call has a code, the customers
# linked to it, and the user of that device. One statement for what auto-issuing needs.
_TO_ISSUE = text(
    """
SELECT w.call_id,
       EXISTS (SELECT 1 FROM tracking_code_calls t WHERE t.call_id = w.call_id),
       ARRAY(SELECT c.customer_id FROM call_customers c WHERE c.call_id = w.call_id),
       (SELECT d.user_id FROM user_devices d WHERE d.device = w.device)
FROM unnest(:call_ids, :devices) AS w (call_id, device)
"""
).bindparams(
    bindparam("call_ids", type_=ARRAY(BigInteger)),
    bindparam("devices", type_=ARRAY(String)),
)

# Automatic codes and their links to their calls in one statement; a code already taken is
# neither inserted nor linked (and not returned: its call draws again).
_ISSUE_AND_LINK = text(
    """
WITH wanted AS (
    SELECT * FROM unnest(:codes, :call_ids, :customer_ids, :owner_ids)
        AS w (code, call_id, customer_id, owner_id)
), issued AS (
    INSERT INTO tracking_codes (code, customer_id, status, subject, owner_user_id, automatic,
                                created_at, first_response_at, first_response_due_at,
                                resolution_due_at)
    SELECT code, customer_id, 'open', '', owner_id, true, :opened, :opened, :first_due,
           :resolution_due
    FROM wanted
    ON CONFLICT (code) DO NOTHING
    RETURNING code, id
), linked AS (
    INSERT INTO tracking_code_calls (tracking_code_id, call_id)
    SELECT issued.id, wanted.call_id FROM issued JOIN wanted USING (code)
    ON CONFLICT DO NOTHING
)
SELECT code, id FROM issued
"""
).bindparams(
    bindparam("codes", type_=ARRAY(String)),
    bindparam("call_ids", type_=ARRAY(BigInteger)),
    bindparam("customer_ids", type_=ARRAY(BigInteger)),
    bindparam("owner_ids", type_=ARRAY(BigInteger)),
    bindparam("first_due", type_=DateTime(timezone=True)),
    bindparam("resolution_due", type_=DateTime(timezone=True)),
    bindparam("opened", type_=DateTime(timezone=True)),
)


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

    async def to_issue(
        self, answered: Sequence[tuple[int, str]]
    ) -> dict[int, tuple[bool, list[int], int | None]]:
        """For each (call id, device that answered it): whether the call has a tracking code
        already, the customers linked to the call, and the user of that device."""
        if not answered:
            return {}
        params = {"call_ids": [c for c, _ in answered], "devices": [d for _, d in answered]}
        rows = (await self.session.execute(_TO_ISSUE, params)).all()
        return {
            call_id: (bool(has), list(customers), owner) for call_id, has, customers, owner in rows
        }

    async def issue_automatic(
        self,
        rows: Sequence[tuple[str, int, int | None, int | None]],
        first_due: datetime | None = None,
        resolution_due: datetime | None = None,
        opened: datetime | None = None,
    ) -> dict[str, int]:
        """Automatic codes (code, call id, customer id, owner id), each linked to its call;
        by code -> id those issued (a code already taken is left out: drawn again)."""
        if not rows:
            return {}
        params = {
            "codes": [r[0] for r in rows],
            "call_ids": [r[1] for r in rows],
            "customer_ids": [r[2] for r in rows],
            "owner_ids": [r[3] for r in rows],
            "first_due": first_due,
            "resolution_due": resolution_due,
            "opened": opened or datetime.now(UTC),
        }
        return {code: i for code, i in (await self.session.execute(_ISSUE_AND_LINK, params)).all()}

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


class CaseSettingsRepository:
    """The admin's case categories and SLA targets."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def categories(self) -> list[CaseCategory]:
        stmt = select(CaseCategory).order_by(CaseCategory.name)
        return list((await self.session.execute(stmt)).scalars())

    async def category(self, name: str) -> CaseCategory | None:
        stmt = select(CaseCategory).where(CaseCategory.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_category(self, name: str) -> CaseCategory | None:
        stmt = (
            insert(CaseCategory)
            .values(name=name)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(CaseCategory)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def slas(self) -> list[CaseSla]:
        stmt = select(CaseSla).order_by(CaseSla.category, CaseSla.priority)
        return list((await self.session.execute(stmt)).scalars())

    async def put_sla(self, values: dict[str, Any]) -> CaseSla:
        base = insert(CaseSla).values(values)
        stmt = base.on_conflict_do_update(
            constraint="uq_case_slas_key",
            set_={
                "first_response_minutes": base.excluded.first_response_minutes,
                "resolution_minutes": base.excluded.resolution_minutes,
            },
        ).returning(CaseSla)
        result = await self.session.execute(stmt, execution_options={"populate_existing": True})
        sla: CaseSla = result.scalar_one()
        return sla

    async def sla_for(self, category: str, priority: str) -> CaseSla | None:
        """The most specific targets: this category and priority, the category for any
        priority, any category at this priority, then the default ("", "")."""
        stmt = (
            select(CaseSla)
            .where(
                CaseSla.category.in_(sorted({category, ""})),
                CaseSla.priority.in_(sorted({priority, ""})),
            )
            .order_by((CaseSla.category == "").asc(), (CaseSla.priority == "").asc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def cases(
        self,
        *,
        owner_id: int | None,
        status: str | None,
        opened_from: datetime | None,
        opened_to: datetime | None,
        limit: int,
    ) -> list[TrackingCode]:
        stmt = select(TrackingCode)
        if owner_id is not None:
            stmt = stmt.where(TrackingCode.owner_user_id == owner_id)
        if status is not None:
            stmt = stmt.where(TrackingCode.status == status)
        if opened_from is not None:
            stmt = stmt.where(TrackingCode.created_at >= opened_from)
        if opened_to is not None:
            stmt = stmt.where(TrackingCode.created_at < opened_to)
        stmt = stmt.order_by(TrackingCode.created_at.desc(), TrackingCode.id.desc())
        return list((await self.session.execute(stmt.limit(limit))).scalars())
