from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import AgentActivity, Call, CallLeg, SpySession, User, UserDevice
from app.supervision.activity import NO_ANSWER, SIGNED_IN


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


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_of(
        self, interfaces: Sequence[tuple[str, str]], pbx: str | None = None
    ) -> list[AgentActivity]:
        """The open intervals of these (pbx, interface), and of every interface of ``pbx``."""
        conds: list[Any] = []
        if interfaces:
            conds.append(
                tuple_(AgentActivity.pbx, AgentActivity.interface).in_(sorted(set(interfaces)))
            )
        if pbx is not None:
            conds.append(AgentActivity.pbx == pbx)
        if not conds:
            return []
        stmt = select(AgentActivity).where(AgentActivity.ended_at.is_(None), or_(*conds))
        return list((await self.session.execute(stmt)).scalars())

    async def users_of(self, devices: Sequence[str]) -> dict[str, int]:
        """The active user owning each of these devices."""
        if not devices:
            return {}
        stmt = (
            select(UserDevice.device, User.id)
            .join(User, User.id == UserDevice.user_id)
            .where(UserDevice.device.in_(sorted(set(devices))), User.is_active.is_(True))
        )
        return {device: user_id for device, user_id in (await self.session.execute(stmt)).all()}

    async def write(
        self, closed: Sequence[tuple[int, datetime, str]], added: Sequence[dict[str, Any]]
    ) -> None:
        """Close the ended intervals first (one open interval per track), then add the new."""
        if closed:
            await self.session.execute(
                update(AgentActivity),
                [{"id": i, "ended_at": at, "reason": reason[:80]} for i, at, reason in closed],
                execution_options={"synchronize_session": False},
            )
        if added:
            await self.session.execute(insert(AgentActivity), list(added))

    def _overlapping(
        self,
        start: datetime,
        end: datetime,
        users: Sequence[int] | None,
        signed_in: bool | None = None,
    ) -> Any:
        """The agent-level intervals overlapping [start, end): those that began in it and
        those that began before and were still on at its start (two index ranges).
        ``signed_in``: only the sign-in to Tamas track (True), only the PBX's (False)."""
        cols = (
            AgentActivity.id,
            AgentActivity.user_id,
            AgentActivity.pbx,
            AgentActivity.interface,
            AgentActivity.state,
            AgentActivity.reason,
            AgentActivity.started_at,
            AgentActivity.ended_at,
        )
        who = (
            AgentActivity.user_id.in_(list(users))
            if users is not None
            else AgentActivity.user_id.is_not(None)
        )
        track: list[Any] = []
        if signed_in is not None:
            track.append(AgentActivity.pbx == "" if signed_in else AgentActivity.pbx != "")
        began_in = select(*cols).where(
            AgentActivity.queue == "",
            *track,
            who,
            AgentActivity.started_at >= start,
            AgentActivity.started_at < end,
        )
        went_on = select(*cols).where(
            AgentActivity.queue == "",
            *track,
            who,
            AgentActivity.started_at < start,
            or_(AgentActivity.ended_at > start, AgentActivity.ended_at.is_(None)),
        )
        return union_all(began_in, went_on).subquery("a")

    async def seconds(
        self, start: datetime, end: datetime, now: datetime, users: Sequence[int] | None
    ) -> list[tuple[int, str, str, float]]:
        """(user, state, reason, seconds within [start, end)), summed."""
        a = self._overlapping(start, end, users)
        stop = func.least(func.coalesce(a.c.ended_at, now), end)
        begin = func.greatest(a.c.started_at, start)
        length = func.sum(func.extract("epoch", stop - begin))
        stmt = (
            select(a.c.user_id, a.c.state, a.c.reason, length)
            .where(func.coalesce(a.c.ended_at, now) > a.c.started_at)
            .group_by(a.c.user_id, a.c.state, a.c.reason)
        )
        return [
            (u, s, r, max(float(n or 0), 0.0)) for u, s, r, n in (await self.session.execute(stmt))
        ]

    async def missed_rings(
        self, start: datetime, end: datetime, users: Sequence[int] | None
    ) -> dict[int, int]:
        """Queue rings that began in [start, end) and timed out or were declined
        (AgentRingNoAnswer), per agent: one per queue call that rang them."""
        who = (
            AgentActivity.user_id.in_(list(users))
            if users is not None
            else AgentActivity.user_id.is_not(None)
        )
        stmt = (
            select(AgentActivity.user_id, func.count())
            .where(
                who,
                AgentActivity.started_at >= start,
                AgentActivity.started_at < end,
                AgentActivity.queue != "",
                AgentActivity.state == "ringing",
                AgentActivity.reason == NO_ANSWER,
            )
            .group_by(AgentActivity.user_id)
        )
        return {u: n for u, n in (await self.session.execute(stmt)).all() if u is not None}

    async def calls_answered(
        self, start: datetime, end: datetime, users: Sequence[int] | None
    ) -> dict[int, int]:
        who = (
            Call.answered_by_user_id.in_(list(users))
            if users is not None
            else Call.answered_by_user_id.is_not(None)
        )
        stmt = (
            select(Call.answered_by_user_id, func.count())
            .where(
                who, Call.started_at >= start, Call.started_at < end, Call.answered_at.is_not(None)
            )
            .group_by(Call.answered_by_user_id)
        )
        return {u: n for u, n in (await self.session.execute(stmt)).all() if u is not None}

    async def intervals(
        self, start: datetime, end: datetime, user_id: int, signed_in: bool = False
    ) -> list[tuple[str, str, datetime, datetime | None]]:
        """The PBX's intervals of the agent, or (``signed_in``) their sign-ins to Tamas."""
        a = self._overlapping(start, end, [user_id], signed_in)
        stmt = select(a.c.state, a.c.reason, a.c.started_at, a.c.ended_at).order_by(
            a.c.started_at, a.c.id
        )
        return [(s, r, b, e) for s, r, b, e in (await self.session.execute(stmt)).all()]

    async def names(self, users: Sequence[int] | None) -> dict[int, str]:
        stmt = select(User.id, User.full_name, User.username)
        if users is not None:
            stmt = stmt.where(User.id.in_(list(users)))
        return {i: f or u for i, f, u in (await self.session.execute(stmt)).all()}


def signin_interface(user_id: int) -> str:
    """The ``interface`` of a user's sign-in track: with ``pbx`` and ``queue`` empty, the
    index of open intervals (pbx, interface, queue) holds one open sign-in per user, whichever
    instance writes it."""
    return f"user:{user_id}"


class SignInRepository:
    """The sign-in to Tamas track of ``agent_activity``: ``pbx`` empty, state signed_in."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _open(self) -> list[Any]:
        return [
            AgentActivity.pbx == "",
            AgentActivity.state == SIGNED_IN,
            AgentActivity.ended_at.is_(None),
        ]

    async def expire(self, before: datetime, user_id: int | None = None) -> int:
        """End every open sign-in (of ``user_id`` only, if given) nobody has seen since
        ``before``, when it was last seen."""
        seen = func.coalesce(AgentActivity.seen_at, AgentActivity.started_at)
        whose = [] if user_id is None else [AgentActivity.interface == signin_interface(user_id)]
        stmt = (
            update(AgentActivity)
            .where(*self._open(), *whose, seen < before)
            .values(ended_at=func.greatest(AgentActivity.started_at, seen))
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]

    async def seen(self, users: Sequence[int], at: datetime) -> None:
        """These users are signed in at ``at``: their open interval goes on (seen now), or
        one opens. Several instances may say so at once: the index of open intervals makes
        it one row, the later ``seen_at`` kept."""
        if not users:
            return
        rows = [
            {
                "pbx": "",
                "interface": signin_interface(u),
                "queue": "",
                "user_id": u,
                "state": SIGNED_IN,
                "reason": "",
                "started_at": at,
                "seen_at": at,
            }
            for u in sorted(set(users))
        ]
        stmt = pg_insert(AgentActivity).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["pbx", "interface", "queue"],
            index_where=AgentActivity.ended_at.is_(None),
            set_={"seen_at": func.greatest(AgentActivity.seen_at, stmt.excluded.seen_at)},
        )
        await self.session.execute(stmt)

    async def last_seen(self, at: dict[int, datetime]) -> None:
        """Each user's last panel here closed at the given time: their open interval (if any)
        was seen then at least."""
        if not at:
            return
        # The table's UPDATE, executed once per user (the ORM's would want primary keys).
        t = cast(Table, AgentActivity.__table__)
        stmt = (
            update(t)
            .where(
                t.c.pbx == "",
                t.c.state == SIGNED_IN,
                t.c.ended_at.is_(None),
                t.c.interface == bindparam("iface"),
            )
            .values(seen_at=func.greatest(t.c.seen_at, bindparam("at")))
        )
        await self.session.execute(
            stmt, [{"iface": signin_interface(u), "at": when} for u, when in sorted(at.items())]
        )

    async def end(self, user_id: int, at: datetime) -> int:
        """The user signed out at ``at``: their open interval ends there."""
        stmt = (
            update(AgentActivity)
            .where(*self._open(), AgentActivity.interface == signin_interface(user_id))
            .values(
                ended_at=func.greatest(AgentActivity.started_at, at),
                seen_at=func.greatest(AgentActivity.seen_at, at),
            )
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]


class PeriodRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _inbound(self, start: datetime, end: datetime, queue: str | None) -> list[Any]:
        conds = [
            Call.direction == "inbound",
            Call.outcome != "live",
            Call.started_at >= start,
            Call.started_at < end,
        ]
        if queue is not None:
            conds.append(Call.queue == queue)
        return conds

    async def days(
        self,
        start: datetime,
        end: datetime,
        tz: str,
        *,
        queue: str | None,
        service_level_seconds: int,
        short_abandon_seconds: int,
    ) -> list[tuple[Any, ...]]:
        """Per local day of inbound calls: offered, answered, abandoned, short abandoned,
        missed, answered within the service level, wait and talk of the answered, longest
        wait."""
        day = func.date(func.timezone(tz, Call.started_at)).label("day")
        answered = Call.outcome == "answered"
        abandoned = Call.outcome == "abandoned"
        short = and_(abandoned, Call.wait_seconds < short_abandon_seconds)

        def count(cond: Any) -> Any:
            return func.count().filter(cond)

        stmt = (
            select(
                day,
                func.count(),
                count(answered),
                count(and_(abandoned, Call.wait_seconds >= short_abandon_seconds)),
                count(short),
                count(Call.outcome.in_(("missed", "busy"))),
                count(and_(answered, Call.wait_seconds <= service_level_seconds)),
                func.coalesce(func.sum(Call.wait_seconds).filter(answered), 0.0),
                func.coalesce(func.sum(Call.talk_seconds).filter(answered), 0.0),
                func.coalesce(func.max(Call.wait_seconds), 0.0),
            )
            .where(*self._inbound(start, end, queue))
            .group_by(day)
            .order_by(day)
        )
        return [tuple(r) for r in (await self.session.execute(stmt)).all()]

    async def heat(
        self, start: datetime, end: datetime, tz: str, queue: str | None
    ) -> list[tuple[int, int, int, int]]:
        """(ISO weekday 1-7, hour 0-23, answered, abandoned) of inbound calls, local time."""
        local = func.timezone(tz, Call.started_at)
        dow = func.extract("isodow", local).label("dow")
        hour = func.extract("hour", local).label("hour")
        stmt = (
            select(
                dow,
                hour,
                func.count().filter(Call.outcome == "answered"),
                func.count().filter(Call.outcome == "abandoned"),
            )
            .where(*self._inbound(start, end, queue))
            .group_by(dow, hour)
        )
        return [(int(d), int(h), a, b) for d, h, a, b in (await self.session.execute(stmt)).all()]
