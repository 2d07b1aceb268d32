from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Callback, CallbackAttempt, Origination, QueueMember, User, UserDevice


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, callback_id: int, *, lock: bool = False) -> Callback | None:
        return await self.session.get(Callback, callback_id, with_for_update=lock or None)

    async def open_for_e164(self, e164: str, pbx: str | None) -> Callback | None:
        """The open callback of this number (held as the PBX gave it, or in E.164)."""
        stmt = select(Callback).where(
            or_(Callback.e164 == e164, Callback.number == e164), Callback.status != "done"
        )
        if pbx is not None:
            stmt = stmt.where(Callback.pbx == pbx)
        found = await self.session.execute(stmt.order_by(Callback.id).limit(1).with_for_update())
        return found.scalar_one_or_none()

    async def add(self, callback: Callback) -> Callback:
        self.session.add(callback)
        await self.session.flush()
        return callback

    async def add_attempt(self, attempt: CallbackAttempt) -> CallbackAttempt:
        self.session.add(attempt)
        await self.session.flush()
        return attempt

    async def attempts_of(self, callback_id: int) -> list[CallbackAttempt]:
        stmt = (
            select(CallbackAttempt)
            .where(CallbackAttempt.callback_id == callback_id)
            .order_by(CallbackAttempt.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def listing(
        self, status: str, user_id: int | None, due_before: datetime | None, limit: int
    ) -> list[Callback]:
        stmt = select(Callback)
        if status == "due":
            stmt = stmt.where(Callback.status != "done")
        else:
            stmt = stmt.where(Callback.status == status)
        if user_id is not None:
            stmt = stmt.where(
                or_(Callback.claimed_by_user_id == user_id, Callback.assigned_user_id == user_id)
            )
        if due_before is not None:
            stmt = stmt.where(Callback.due_at <= due_before)
        order: list[Any]
        if status == "done":
            order = [Callback.done_at.desc()]
        elif status == "due":
            order = [Callback.due_at, Callback.id]
        else:
            order = [Callback.first_call_at, Callback.id]
        return list((await self.session.execute(stmt.order_by(*order).limit(limit))).scalars())

    async def by_ids(self, ids: Sequence[int]) -> list[Callback]:
        stmt = select(Callback).where(Callback.id.in_(sorted(set(ids)))).with_for_update()
        return list((await self.session.execute(stmt.order_by(Callback.id))).scalars())

    async def by_origination_refs(self, refs: Sequence[str]) -> list[Callback]:
        if not refs:
            return []
        stmt = (
            select(Callback)
            .where(Callback.origination_ref.in_(sorted(set(refs))), Callback.status != "done")
            .with_for_update()
        )
        return list((await self.session.execute(stmt)).scalars())

    async def claim_due(self, now: datetime, limit: int) -> list[Callback]:
        """Mark the open callbacks due by ``now`` and not popped yet as popped, and return
        them: rows another instance is claiming at the same moment are skipped (SKIP
        LOCKED), and a row it claimed is seen as popped once its transaction commits, so
        each due time pops once whatever the number of instances."""
        due = (
            select(Callback.id)
            .where(Callback.status != "done", Callback.popped_at.is_(None), Callback.due_at <= now)
            .order_by(Callback.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(Callback)
            .where(Callback.id.in_(due))
            .values(popped_at=func.now())
            .returning(Callback)
            .execution_options(synchronize_session=False)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def queue_agents(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[int]]:
        """The active users whose devices are members of each (PBX, queue)."""
        out: dict[tuple[str, str], list[int]] = {k: [] for k in keys}
        if not keys:
            return out
        queues = sorted({q for _, q in keys})
        stmt = (
            select(QueueMember.pbx, QueueMember.queue, UserDevice.user_id)
            .join(
                UserDevice,
                or_(
                    UserDevice.device == QueueMember.interface,
                    UserDevice.device == QueueMember.state_interface,
                ),
            )
            .join(User, User.id == UserDevice.user_id)
            .where(QueueMember.queue.in_(queues), User.is_active)
            .distinct()
            .order_by(QueueMember.pbx, QueueMember.queue, UserDevice.user_id)
        )
        for pbx, queue, user_id in (await self.session.execute(stmt)).all():
            if (pbx, queue) in out:
                out[(pbx, queue)].append(user_id)
        return out

    async def originator(self, ref: str) -> int | None:
        """Who placed this click-to-call."""
        stmt = select(Origination.user_id).where(Origination.ref == ref)
        found: int | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def active_user(self, user_id: int) -> User | None:
        user = await self.session.get(User, user_id)
        return user if user is not None and user.is_active else None
