"""One task per instance that keeps every agent socket honest, instead of a timer per socket.

Every ``PING_INTERVAL`` seconds each connection is looked at once: a client silent for
``SILENCE_LIMIT`` is closed as dead (4000), one whose token was revoked or has expired is
closed (4401), the others get a ping. The token checks of all connections due in one tick
are one database query, and connections are spread over the interval (each is first looked
at a random moment after it opens), so a thousand agents who signed in together cost a small
query a second, not a thousand transactions in a burst that holds the pops up.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection

from app.tasks import cancelled
from screenpop.hub import PING, Connection, Hub

logger = logging.getLogger(__name__)

PING_INTERVAL = 15.0
FREEZE_AT = 100
SILENCE_LIMIT = 45.0

# Given token digests, the subset that still belongs to an active, signed-in user.
TokenCheck = Callable[[Collection[str]], Awaitable[set[str]]]


def first_check_delay() -> float:
    """When to first look at a new connection: at a random point of the next interval."""
    return random.uniform(0.5, 1.0) * PING_INTERVAL


class Keeper:
    def __init__(self, hub: Hub, live_tokens: TokenCheck) -> None:
        self.hub = hub
        self.live_tokens = live_tokens
        self._task: asyncio.Task[None] | None = None
        self._frozen_at = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="screenpop-keeper")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            # Read at each turn so the intervals can be shortened in tests.
            await asyncio.sleep(min(1.0, PING_INTERVAL / 4))
            try:
                await self.tick()
            except Exception:  # one bad turn must not end the keeper
                logger.exception("screen-pop keeper: a check failed; trying again next turn")

    def maybe_freeze(self) -> None:
        """Once many agents have connected, move the objects of their sockets (about 200
        each, for hours) out of the garbage collector's sight, as the lifespan does with
        what start-up built: otherwise every full collection walks them all and stops the
        event loop for a quarter of a second with a thousand agents. Done again only when
        the number of sockets has grown by a quarter."""
        count = self.hub.connections()
        if count >= FREEZE_AT and count >= self._frozen_at * 1.25:
            self._frozen_at = count
            gc.freeze()
            logger.info("%d sockets: their objects moved out of the collector's sight", count)

    async def tick(self) -> None:
        """Look at the connections that are due."""
        self.maybe_freeze()
        now = time.monotonic()
        due: list[Connection] = []
        for conn in self.hub:
            if conn.due > now or conn.closing is not None:
                continue
            conn.due = now + PING_INTERVAL
            if now - conn.last_heard > SILENCE_LIMIT:
                conn.close(4000, "no pong: connection presumed dead")
            else:
                due.append(conn)
        if not due:
            return
        try:
            live = await self.live_tokens({c.token_digest for c in due})
        except Exception:
            # The database is away: nobody is signed out for that, the tokens are checked
            # again at the next interval.
            logger.warning("screen-pop keeper: could not check %d tokens", len(due), exc_info=True)
            live = {c.token_digest for c in due}
        for conn in due:
            if conn.token_digest in live:
                conn.offer(PING)
            else:
                conn.close(4401, "signed out: the token was revoked or has expired")
