from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Callback, Customer, Task, TrackingCode


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task) -> Task:
        self.session.add(task)
        await self.session.flush()
        return task

    async def get(self, task_id: int, *, lock: bool = False) -> Task | None:
        return await self.session.get(Task, task_id, with_for_update=lock or None)

    async def listing(
        self,
        user_id: int | None,
        done: bool,
        customer_id: int | None,
        tracking_code_id: int | None,
        due_before: datetime | None,
        limit: int,
    ) -> list[Task]:
        stmt = select(Task).where(Task.done_at.is_not(None) if done else Task.done_at.is_(None))
        if user_id is not None:
            stmt = stmt.where(
                or_(Task.assignee_user_id == user_id, Task.created_by_user_id == user_id)
            )
        if customer_id is not None:
            stmt = stmt.where(Task.customer_id == customer_id)
        if tracking_code_id is not None:
            stmt = stmt.where(Task.tracking_code_id == tracking_code_id)
        if due_before is not None:
            stmt = stmt.where(Task.due_at < due_before)
        order: list[Any] = (
            [Task.done_at.desc()] if done else [Task.due_at.asc().nulls_last(), Task.id]
        )
        return list((await self.session.execute(stmt.order_by(*order).limit(limit))).scalars())

    async def labels(self, tasks: Sequence[Task]) -> tuple[dict[int, str], dict[int, str]]:
        """The customers' names and the cases' codes these tasks name."""
        customers = sorted({t.customer_id for t in tasks if t.customer_id})
        codes = sorted({t.tracking_code_id for t in tasks if t.tracking_code_id})
        names: dict[int, str] = {}
        if customers:
            stmt = select(Customer.id, Customer.name).where(Customer.id.in_(customers))
            names = {i: n for i, n in (await self.session.execute(stmt)).all()}
        code_of: dict[int, str] = {}
        if codes:
            stmt2 = select(TrackingCode.id, TrackingCode.code).where(TrackingCode.id.in_(codes))
            code_of = {i: c for i, c in (await self.session.execute(stmt2)).all()}
        return names, code_of

    async def summary(self, user_id: int, now: datetime, tomorrow: datetime) -> dict[str, int]:
        open_ = and_(Task.assignee_user_id == user_id, Task.done_at.is_(None))
        stmt = select(
            func.count().filter(Task.due_at < now),
            func.count().filter(Task.due_at >= now, Task.due_at < tomorrow),
            func.count(),
            func.count().filter(Task.kind == "contract"),
        ).where(open_)
        overdue, today, total, contracts = (await self.session.execute(stmt)).one()
        stmt2 = select(func.count()).where(
            Callback.status != "done",
            Callback.due_at <= now,
            or_(Callback.assigned_user_id == user_id, Callback.claimed_by_user_id == user_id),
        )
        callbacks = (await self.session.execute(stmt2)).scalar_one()
        return {
            "overdue": overdue,
            "due_today": today,
            "open": total,
            "callbacks_due": callbacks,
            "contracts_ending": contracts,
        }

    async def claim_reminders(self, now: datetime, limit: int) -> list[Task]:
        """Mark the reminders due by ``now`` as sent and return them, skipping rows another
        instance is claiming (see ``CallbackRepository.claim_due``): each pops once."""
        due = (
            select(Task.id)
            .where(Task.remind_at <= now, Task.reminded_at.is_(None), Task.done_at.is_(None))
            .order_by(Task.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(Task)
            .where(Task.id.in_(due))
            .values(reminded_at=func.now())
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def add_contract_notices(self, first: date, last: date, title: str) -> int:
        """A task for the owner of each customer whose contract ends from ``first`` to
        ``last``, once per contract (the unique index on contract_id): how many new."""
        result = await self.session.execute(
            _CONTRACT_NOTICES, {"first": first, "last": last, "title": title}
        )
        return len(result.all())


# Contracts ending in the window, for customers with an owner, that have no notice yet; the
# unique partial index makes a concurrent instance's insert of the same notice a no-op.
_CONTRACT_NOTICES = text(
    """
INSERT INTO tasks (kind, title, notes, customer_id, contract_id, assignee_user_id, due_at,
                   remind_at, done_note)
SELECT 'contract', :title, c.level || ' ' || c.ends_on::text, c.customer_id, c.id,
       cu.owner_id, NULL, NULL, ''
FROM contracts c JOIN customers cu ON cu.id = c.customer_id
WHERE c.ends_on BETWEEN :first AND :last AND cu.owner_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.contract_id = c.id)
ON CONFLICT (contract_id) WHERE contract_id IS NOT NULL DO NOTHING
RETURNING id
"""
).bindparams(bindparam("first", type_=Date), bindparam("last", type_=Date))
