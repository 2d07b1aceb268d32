from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, BindParameter, any_, bindparam, func, insert, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.models import Call, Customer, CustomerPhone, PopEvent, User, UserDevice


class PopRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def users_for_devices(self, devices: Sequence[str]) -> dict[str, User]:
        """Active users by device; a bare extension (``1002``, as a blind transfer names its
        target) matches any technology's device with that name."""
        wanted = [d for d in devices if d]
        if not wanted:
            return {}
        bare = [d for d in wanted if "/" not in d]
        cond: ColumnElement[bool] = UserDevice.device.in_(wanted)
        if bare:
            cond = or_(cond, *(UserDevice.device.like(f"%/{b}") for b in bare))
        stmt = (
            select(UserDevice.device, User)
            .join(User, User.id == UserDevice.user_id)
            .where(cond, User.is_active.is_(True))
        )
        found: dict[str, User] = {}
        for device, user in (await self.session.execute(stmt)).all():
            found[device] = user
            found.setdefault(device.rsplit("/", 1)[-1], user)
        return found

    async def open_recipients(self, pbx: str, linkedid: str) -> dict[int, str]:
        """Each agent who got pops for this call, with the kind of the latest one."""
        latest = (
            select(func.max(PopEvent.id))
            .where(PopEvent.pbx == pbx, PopEvent.linkedid == linkedid)
            .group_by(PopEvent.user_id)
        )
        stmt = select(PopEvent.user_id, PopEvent.kind).where(PopEvent.id.in_(latest))
        return {u: k for u, k in (await self.session.execute(stmt)).all()}

    async def customers_for(self, e164: str) -> Sequence[Customer]:
        holders = select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164)
        stmt = (
            select(Customer)
            .where(Customer.id.in_(holders))
            .options(selectinload(Customer.phones))
            .order_by(Customer.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def last_calls(self, e164: str, exclude_call_id: int, limit: int = 5) -> list[Any]:
        stmt = (
            select(Call, User.full_name, User.username)
            .outerjoin(User, User.id == Call.answered_by_user_id)
            .where(Call.customer_e164 == e164, Call.id != exclude_call_id)
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())

    async def add(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        result = await self.session.execute(insert(PopEvent).returning(PopEvent.id), list(rows))
        return [int(i) for i in result.scalars()]

    async def notify(self, channel: str, payload: str) -> None:
        # Delivered by PostgreSQL when (and only if) this transaction commits.
        await self.session.execute(select(func.pg_notify(channel, payload)))

    async def events(self, ids: Sequence[int], user_ids: Sequence[int]) -> Sequence[PopEvent]:
        # Arrays, not IN lists: ``user_ids`` is every agent connected to this instance, and
        # an IN list of a thousand parameters is rendered, sent and planned anew for every
        # notification (about 7 ms with 1,000 agents, against 1 ms this way).
        stmt = (
            select(PopEvent)
            .where(
                PopEvent.id == any_(_array(ids, BigInteger)),
                PopEvent.user_id == any_(_array(user_ids, BigInteger)),
            )
            .order_by(PopEvent.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def missed(self, user_id: int, after: int | None) -> Sequence[PopEvent]:
        """What a (re)connecting client needs: for each call, the newest message it has not
        seen. A client that saw nothing yet (``after`` None) gets the calls still ringing or
        in progress; one that resumes also gets the withdrawals of cards it may still show.
        Only the last day is looked at."""
        latest = (
            select(func.max(PopEvent.id))
            .where(
                PopEvent.user_id == user_id,
                PopEvent.created_at > func.now() - func.make_interval(0, 0, 0, 1),
            )
            .group_by(PopEvent.pbx, PopEvent.linkedid)
        )
        stmt = select(PopEvent).where(PopEvent.id.in_(latest))
        if after is None:
            stmt = stmt.where(PopEvent.kind == "pop")
        else:
            stmt = stmt.where(PopEvent.id > after)
        return (await self.session.execute(stmt.order_by(PopEvent.id))).scalars().all()

    async def last_id(self, user_id: int) -> int:
        stmt = select(func.max(PopEvent.id)).where(PopEvent.user_id == user_id)
        return int((await self.session.execute(stmt)).scalar_one() or 0)


def _array(values: Sequence[Any], of: type[BigInteger]) -> BindParameter[Any]:
    """One array parameter (``= ANY(...)``) instead of an IN list of one parameter each."""
    return bindparam(None, list(values), type_=ARRAY(of))
