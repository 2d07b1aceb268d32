from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import QueueMember, User, UserDevice
from telephony.members import MemberState

_MEMBER_KEY = ("pbx", "queue", "interface")


@cache
def _member_upsert(columns: tuple[str, ...]) -> Any:
    # Built and compiled once, the rows sent as parameters (executemany): a multi-row
    # VALUES built from the rows was compiled afresh for every batch.
    stmt = insert(cast(Table, QueueMember.__table__))
    return stmt.on_conflict_do_update(
        index_elements=list(_MEMBER_KEY),
        set_={k: stmt.excluded[k] for k in columns if k not in _MEMBER_KEY},
    )


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_interfaces(self, pbx_interfaces: Sequence[tuple[str, str]]) -> list[QueueMember]:
        """The memberships of these (pbx, interface) pairs, by interface or state interface."""
        if not pbx_interfaces:
            return []
        pairs = sorted(set(pbx_interfaces))
        stmt = (
            select(QueueMember)
            .where(
                or_(
                    tuple_(QueueMember.pbx, QueueMember.interface).in_(pairs),
                    tuple_(QueueMember.pbx, QueueMember.state_interface).in_(pairs),
                )
            )
            .order_by(QueueMember.pbx, QueueMember.queue)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def of_keys(self, keys: Sequence[tuple[str, str, str]]) -> list[QueueMember]:
        """The memberships of these (pbx, queue, interface)."""
        if not keys:
            return []
        stmt = select(QueueMember).where(
            tuple_(QueueMember.pbx, QueueMember.queue, QueueMember.interface).in_(list(keys))
        )
        return list((await self.session.execute(stmt)).scalars())

    async def upsert(self, states: Sequence[MemberState], now: datetime) -> None:
        """Apply reported member states in order, in two statements: the removals, then one
        INSERT ... ON CONFLICT for the newest state of each member still there."""
        latest: dict[tuple[str, str, str], MemberState] = {}
        for state in states:
            latest[(state.pbx, state.queue, state.interface)] = state
        removed = [k for k, s in latest.items() if s.removed]
        if removed:
            await self.session.execute(
                delete(QueueMember).where(
                    tuple_(QueueMember.pbx, QueueMember.queue, QueueMember.interface).in_(removed)
                )
            )
        rows = [
            {
                "pbx": s.pbx,
                "queue": s.queue,
                "interface": s.interface,
                "state_interface": s.state_interface,
                "member_name": s.member_name[:200],
                "membership": s.membership[:16],
                "paused": s.paused,
                "paused_reason": s.paused_reason[:80],
                "status": s.status,
                "in_call": s.in_call,
                "updated_at": now,
            }
            for s in latest.values()
            if not s.removed
        ]
        if not rows:
            return
        await self.session.execute(_member_upsert(tuple(rows[0])), rows)

    async def replace_pbx(
        self, pbx: str, states: Sequence[MemberState], now: datetime
    ) -> list[str]:
        """Make the PBX's memberships exactly ``states`` (after a QueueStatus); returns the
        interfaces of the rows that went away."""
        keep = {(s.queue, s.interface) for s in states}
        rows = (
            await self.session.execute(
                select(QueueMember.queue, QueueMember.interface).where(QueueMember.pbx == pbx)
            )
        ).all()
        gone = [(q, i) for q, i in rows if (q, i) not in keep]
        if gone:
            await self.session.execute(
                delete(QueueMember).where(
                    QueueMember.pbx == pbx,
                    tuple_(QueueMember.queue, QueueMember.interface).in_(gone),
                )
            )
        await self.upsert(states, now)
        return [i for _, i in gone]

    async def set_wrapup(self, pbx: str, interfaces: Sequence[str], until: datetime | None) -> None:
        await self.session.execute(
            update(QueueMember)
            .where(QueueMember.pbx == pbx, QueueMember.interface.in_(list(interfaces)))
            .values(wrapup_until=until)
        )

    async def claim_wrapups_due(self, now: datetime) -> list[tuple[str, str, str]]:
        """(pbx, interface, state_interface) of members whose after-call work is over, each
        claimed once (the deadline is cleared in the same statement)."""
        stmt = (
            update(QueueMember)
            .where(QueueMember.wrapup_until <= now)
            .values(wrapup_until=None)
            .returning(QueueMember.pbx, QueueMember.interface, QueueMember.state_interface)
        )
        rows = (await self.session.execute(stmt)).all()
        return sorted({(p, i, s) for p, i, s in rows})

    async def users_of_devices(self, devices: Sequence[str]) -> list[User]:
        """The active users owning any of these devices, with their devices loaded."""
        if not devices:
            return []
        stmt = (
            select(User)
            .join(UserDevice, UserDevice.user_id == User.id)
            .where(UserDevice.device.in_(sorted(set(devices))), User.is_active.is_(True))
            .options(selectinload(User.devices))
            .distinct()
        )
        return list((await self.session.execute(stmt)).scalars())
