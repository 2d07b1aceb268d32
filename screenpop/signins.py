"""The agents signed in to Tamas through this instance's panels, told to the activity
history (see ``app/supervision/signin_service.py``).

A panel's sign-in is written at once (one statement per socket opened). After that nothing
is written per socket or per ping: every ``signin_seen_seconds`` one turn marks everyone
whose panel is open here as seen (their tokens still live: a signed-out panel waiting for the
keeper to close it does not open a new interval), and those whose last panel here closed
since the last turn as seen when it closed; the same turn ends the intervals of agents no
instance has seen for the grace. Only users with a phone are followed: the agents, not an
admin's screen.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from app.auth.service import AuthService
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.models import User
from app.supervision.signin_service import SignInService
from app.tasks import cancelled
from screenpop.hub import Hub

logger = logging.getLogger(__name__)


class SignIns:
    def __init__(self, hub: Hub, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.hub = hub
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.followed: set[int] = set()  # users with a phone whose panel signed in here
        self.left: dict[int, datetime] = {}  # their last panel here closed then
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="panel-sign-ins")

    async def stop(self) -> None:
        """The last turn: the panels closed at shutdown are seen until then."""
        await cancelled(self._task)
        self._task = None
        try:
            await self.turn()
        except Exception:
            logger.warning("panel sign-ins: the last turn failed", exc_info=True)

    async def opened(self, user: User) -> None:
        """A panel of ``user`` has signed in here (and is in the hub)."""
        if not user.devices:
            return
        self.followed.add(user.id)
        self.left.pop(user.id, None)
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await SignInService(session, self.settings).signed_in(user.id)
        except Exception:
            # The next turn opens it: the panel is in the hub.
            logger.warning("panel sign-ins: could not record %s's sign-in", user.id, exc_info=True)

    def closed(self, user_id: int) -> None:
        """A panel of ``user_id`` has left the hub."""
        if user_id in self.followed and not self.hub.has(user_id):
            self.left[user_id] = datetime.now(UTC)

    async def turn(self, now: datetime | None = None) -> int:
        """Mark who is here, and who left, as seen; end what nobody has seen for the grace.
        Returns how many intervals were ended."""
        now = now or datetime.now(UTC)
        conns = [c for c in self.hub if c.user_id in self.followed and c.closing is None]
        left, self.left = self.left, {}
        try:
            async with unit_of_work(self.sessionmaker) as session:
                live = await AuthService(session, self.settings).live_digests(
                    {c.token_digest for c in conns}
                )
                seen = {c.user_id for c in conns if c.token_digest in live}
                ended = await SignInService(session, self.settings).sweep(seen, left, now)
        except BaseException:
            for user_id, at in left.items():  # told at the next turn instead
                self.left.setdefault(user_id, at)
            raise
        self.followed = {u for u in self.followed if self.hub.has(u) or u in self.left}
        return ended

    async def _run(self) -> None:
        while True:
            try:
                await self.turn()
            except Exception:
                logger.exception("panel sign-ins: a turn failed; trying again")
            await asyncio.sleep(self.settings.signin_seen_seconds)
