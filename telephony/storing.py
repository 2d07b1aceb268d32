"""Between the tracker and the handler: what the AMI listener produced is held here until
the handler committed it (``telephony.buffer`` says what is held and how it is coalesced).

The database unreachable (``app.db.is_unreachable``): nothing is given up; the database is
tried again every 0.5 s to 5 s, and meanwhile the listener goes on reading and tracking. When
``most`` items are held, the PBX is let go (``on_full``: the listener disconnects) until the
database took what is held (``on_caught_up``: it reconnects and resyncs). A batch that fails
on its own data is tried ``_TRIES`` times, then cut in halves until the call (or extra) that
fails is found; that one is logged by name, counted in ``health.poisoned`` and given up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.db import is_unreachable
from telephony.buffer import HeldEvents, Unit, merged
from telephony.model import CallEvent, Extras
from telephony.pbx_health import PbxHealth

logger = logging.getLogger("telephony.listener")

# Called with each batch's call events, and with ``Extras`` when the batch had any.
Handler = Callable[..., Awaitable[None]]
# Events handed to the handler at once, at most (a call's events are never cut in two).
# A batch costs about 17 statements whatever its size, and a call's snapshots within one
# are written once: when events queue up, bigger batches are what lets the listener catch
# up (listener CPU an event at the max pace: 36 us at 1,000, 26 at 4,000, 23 at 10,000,
# with the latency of a batch growing with it). When the PBX's pace is taken as it comes,
# batches are what is queued, far smaller.
BATCH = 4000
# A batch that fails for a reason of its own is tried this many times before it is split.
_TRIES = 3
# While the database is unreachable: how often it is tried again (seconds, doubling).
_DB_RETRY_FIRST, _DB_RETRY_MOST = 0.5, 5.0


class Storer:
    def __init__(
        self,
        pbx: str,
        handler: Handler,
        health: PbxHealth,
        most: int,
        *,
        on_full: Callable[[], None],
        on_caught_up: Callable[[], None],
    ) -> None:
        self.pbx = pbx
        self.handler = handler
        self.health = health
        self.held = HeldEvents(most)
        self.on_full = on_full
        self.on_caught_up = on_caught_up
        # The database: monotonic time it was found unreachable, when to try it next.
        self.down_since: float | None = None
        self.retry_at = 0.0
        self._retry = 0.0
        self._back_at: float | None = None
        # The buffer filled: the PBX is let go until the database took what is held.
        self.let_go = False
        self.stored = asyncio.Event()  # set while nothing is held

    def wait(self) -> float | None:
        """How long the consumer may wait for events before trying what is held again."""
        return self.retry_at - time.monotonic() if len(self.held) else None

    def hold(self, events: list[CallEvent], extras: Extras | None) -> None:
        if events or extras:
            down = self.down_since is not None
            self.held.add(events, extras, coalesce=down)
            if down and self.held.full and not self.let_go:
                self._let_go()

    async def flush(self) -> None:
        """Store what is held, oldest first, unless the database is known unreachable and
        not due for another try."""
        while len(self.held):
            if self.down_since is not None and time.monotonic() < self.retry_at:
                break
            if not await self._store(self.held.take(BATCH), _TRIES):
                break
        self.show()
        if self.let_go and len(self.held) <= self.held.most // 2 and self.down_since is None:
            self.let_go = False
            logger.warning(
                "PBX %s: the held calls are stored; reconnecting to the PBX to resync",
                self.pbx,
            )
            self.on_caught_up()

    async def _store(self, units: list[Unit], tries: int) -> bool:
        """Hand ``units`` to the handler. False: the database is unreachable (nothing was
        let go). A failure of their own: after ``tries``, in halves until the unit that fails
        is found and given up."""
        attempt = 0
        while True:
            attempt += 1
            events, extras = merged(units)
            began = time.monotonic()
            try:
                if extras:
                    await self.handler(events, extras)
                else:
                    await self.handler(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.handler_errors += 1
                if is_unreachable(exc):
                    self._unreachable(exc)
                    return False
                if attempt < tries:
                    logger.warning(
                        "PBX %s: storing %d call events failed (%s); trying again",
                        self.pbx,
                        len(events),
                        type(exc).__name__,
                    )
                    await asyncio.sleep(0.2 * attempt)
                    continue
                if len(units) == 1:
                    self.health.poisoned += len(events) or 1
                    logger.error(
                        "PBX %s: gave up storing %s: it fails on its own (%s: %s); the "
                        "stream goes on without it",
                        self.pbx,
                        units[0].describe(),
                        type(exc).__name__,
                        str(exc).splitlines()[0][:300] if str(exc) else "",
                    )
                    self.held.release(units)
                    return True
                half = len(units) // 2
                for part in (units[:half], units[half:]):
                    if not await self._store(part, _TRIES if len(part) == 1 else 1):
                        return False
                return True
            self.held.release(units)
            self._reachable(began)
            return True

    def _unreachable(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._back_at = None
        if self.down_since is None:
            self.down_since = now
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.health.database = f"unreachable since {since}"
            logger.warning(
                "PBX %s: the database is unreachable (%s); holding call events (up to %d "
                "calls) and trying it again every few seconds",
                self.pbx,
                type(exc).__name__,
                self.held.most,
            )
        self._retry = min(max(self._retry * 2, _DB_RETRY_FIRST), _DB_RETRY_MOST)
        self.retry_at = now + self._retry
        if self.held.full and not self.let_go:
            self._let_go()

    def _reachable(self, began: float) -> None:
        """A store that began at ``began`` succeeded."""
        if self.down_since is not None:
            self.health.last_outage_seconds = round(began - self.down_since, 3)
            self.down_since = None
            self._back_at = began
            self._retry = 0.0
            self.health.database = "ok"
            logger.warning(
                "PBX %s: the database is back after %.1f s; writing %d held calls",
                self.pbx,
                self.health.last_outage_seconds,
                self.held.calls,
            )
        if self._back_at is not None and not len(self.held):
            self.health.last_catch_up_seconds = round(time.monotonic() - self._back_at, 3)
            self._back_at = None

    def _let_go(self) -> None:
        """The buffer is full: the PBX is let go (disconnected) rather than the buffer grow.
        The tracker keeps its calls; once the database took what is held, the listener logs
        in again and the resync ends the calls that went away meanwhile (their end "not
        observed"). Calls that began and ended in between are not seen at all."""
        self.let_go = True
        self.health.buffer_full_episodes += 1
        self.health.status = "paused"
        self.health.reason = (
            f"database unreachable and {len(self.held)} calls held (the most): stopped "
            "reading the PBX until the database is back"
        )
        self.health.connected_since = None
        logger.warning("PBX %s: %s", self.pbx, self.health.reason)
        self.on_full()

    def show(self) -> None:
        if len(self.held):
            self.stored.clear()
        else:
            self.stored.set()
        self.health.buffered = len(self.held)
        self.health.buffered_events = self.held.events
        self.health.buffer_peak = max(self.health.buffer_peak, self.held.peak)
