"""Sign-in to Tamas as activity intervals: from when an agent's panel first connected until
their last one was gone for longer than a grace, or they signed out. A track of its own in
``agent_activity`` (``pbx`` and ``queue`` empty, state ``signed_in``), beside the PBX's.

Instances do not tell each other who is connected: each one says "seen now" for the agents
whose panels it holds (at sign-in, and then every ``signin_seen_seconds`` for all of them at
once), and "last seen then" for those whose last panel here closed. Any instance ends an
interval nobody has seen for ``signin_grace_seconds``, at the moment it was last seen (not
when that was noticed). A reload, a dropped connection or a move to another instance within
the grace is one interval; one agent on two instances is one interval too, as the index of
open intervals holds one per user.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.supervision.repository import SignInRepository


class SignInService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repo = SignInRepository(session)
        self.grace = timedelta(seconds=settings.signin_grace_seconds)

    async def signed_in(self, user_id: int, now: datetime | None = None) -> None:
        """A panel of theirs has just signed in: their interval goes on, or one opens (an
        open one not seen for the grace ends first, when it was last seen: they were gone)."""
        now = now or datetime.now(UTC)
        await self.repo.expire(now - self.grace, user_id)  # theirs only: the turns do the rest
        await self.repo.seen([user_id], now)

    async def sweep(
        self,
        seen: Collection[int],
        left: Mapping[int, datetime] | None = None,
        now: datetime | None = None,
    ) -> int:
        """One instance's turn: the users in ``seen`` have a panel open here now (open since
        it signed in: their interval goes on, however long this instance could not say so);
        those in ``left`` had their last one here close at that time. Then every interval not
        seen for the grace is ended. Returns how many were ended."""
        now = now or datetime.now(UTC)
        await self.repo.last_seen(dict(left or {}))
        await self.repo.seen(sorted(seen), now)
        return await self.repo.expire(now - self.grace)

    async def signed_out(self, user_id: int, now: datetime | None = None) -> int:
        """They signed out: the interval ends now (a panel of theirs still open elsewhere,
        signed in with another token, opens a new one at its instance's next turn)."""
        return await self.repo.end(user_id, now or datetime.now(UTC))
