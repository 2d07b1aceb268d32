"""The webhook worker: delivers the outbox (``webhook_deliveries``) to the endpoints.

Started in the app's lifespan on every instance; instances share the work through the
database (``FOR UPDATE SKIP LOCKED``). Each endpoint's deliveries go in order, one at a time:
only the head of its queue (its oldest row neither delivered nor dead) is ever claimed, and
it is claimed with a lease. A 2xx answer is delivered; anything else (another status, a
refused connection, a timeout) is tried again after an exponential backoff with jitter, and
after ``webhook_max_attempts`` tries the row is dead (and the next one becomes the head).

At least once: a delivery whose outcome was not written (the instance stopped or died
mid-request) is sent again: at once after a clean stop, after its lease otherwise. Receivers
de-duplicate by the ``Tamas-Event-Id`` header. The row itself is delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.integrations import signing
from app.integrations.repository import Claimed, IntegrationRepository
from app.tasks import cancelled, within

logger = logging.getLogger(__name__)

USER_AGENT = "Tamas-Webhooks/1"
# How much of an answer's body goes into the log when it is not a 2xx.
_BODY_KEPT = 300
# How long the worker waits while the AMI listeners are busy, and lets notifications gather.
_YIELD_SECONDS = 0.02
_COALESCE_SECONDS = 0.01


def body_of(claimed: Claimed) -> bytes:
    return json.dumps(claimed.payload, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempt: int, first: float, most: float) -> float:
    """Seconds to wait after failed try number ``attempt`` (1, 2, ...): doubling from
    ``first`` up to ``most``, less up to half of it at random ("equal jitter")."""
    wait = min(first * 2.0 ** (attempt - 1), most)
    return wait / 2 + random.uniform(0, wait / 2)


class WebhookWorker:
    def __init__(
        self,
        sessionmaker: SessionMaker,
        settings: Settings,
        *,
        poll_seconds: float = 1.0,
        lease_margin_seconds: float = 5.0,
        yield_to: Callable[[], bool] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.poll_seconds = poll_seconds
        # Pops first: while this says the instance's AMI listeners have events waiting, no
        # new delivery starts (those in flight finish); the outbox keeps the rest.
        self.yield_to = yield_to
        self.yielded = 0
        self.lease_seconds = settings.webhook_timeout_seconds + lease_margin_seconds
        self.wake = asyncio.Event()
        self.delivered = 0
        self.failed = 0
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[asyncio.Task[None], Claimed] = {}
        self._purged_at = 0.0

    def start(self) -> None:
        timeout = self.settings.webhook_timeout_seconds
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=self.settings.webhook_concurrency * 2),
        )
        self._task = asyncio.create_task(self._run(), name="webhooks")

    def changed(self, *_: object) -> None:
        """Something was enqueued (a NOTIFY on the integrations channel): look now."""
        self.wake.set()

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        interrupted = list(self._inflight.values())
        for task in list(self._inflight):
            await cancelled(task)
        self._inflight.clear()
        if interrupted:
            # Not known whether they arrived: put them back to be sent again at once (by
            # another instance, or this one when it starts again).
            try:
                async with unit_of_work(self.sessionmaker) as session:
                    repo = IntegrationRepository(session)
                    now = datetime.now(UTC)
                    for claimed in interrupted:
                        await repo.finish(
                            claimed,
                            status="pending",
                            started_at=now,
                            duration_ms=0.0,
                            status_code=None,
                            error="interrupted: Tamas stopped during the delivery",
                            next_attempt_at=now,
                        )
            except Exception:  # the leases run out and they are sent again anyway
                logger.warning("could not release %d deliveries", len(interrupted), exc_info=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            if self.yield_to is not None and self.yield_to():
                self.yielded += 1
                await asyncio.sleep(_YIELD_SECONDS)
                continue
            try:
                claimed = await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("claiming webhook deliveries failed", exc_info=True)
                claimed = []
            for c in claimed:
                task = asyncio.create_task(self._deliver(c), name=f"webhook-{c.id}")
                self._inflight[task] = c
                task.add_done_callback(self._done)
            if not claimed:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self.wake.wait(), self.poll_seconds)
                # Every stored batch of PBX events notifies: those of a burst are looked at
                # together.
                await asyncio.sleep(_COALESCE_SECONDS)
            await self._purge()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self.wake.set()

    async def _claim(self) -> list[Claimed]:
        room = self.settings.webhook_concurrency - len(self._inflight)
        if room <= 0:
            return []
        busy = sorted({c.endpoint_id for c in self._inflight.values()})
        async with unit_of_work(self.sessionmaker) as session:
            return await IntegrationRepository(session).claim(busy, room, self.lease_seconds)

    async def _deliver(self, claimed: Claimed) -> None:
        assert self._client is not None
        body = body_of(claimed)
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.header_value(claimed.secret, body),
            signing.EVENT_ID_HEADER: claimed.event_id,
            signing.EVENT_TYPE_HEADER: claimed.event_type,
            signing.ATTEMPT_HEADER: str(claimed.attempt),
        }
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        code: int | None = None
        error = ""
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                response = await self._client.post(claimed.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}: {response.text[:_BODY_KEPT]}"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_BODY_KEPT]
        duration_ms = round((time.perf_counter() - began) * 1000, 3)
        if not error:
            status, next_at = "delivered", None
        elif claimed.attempt >= self.settings.webhook_max_attempts:
            status, next_at = "dead", None
        else:
            wait = backoff(
                claimed.attempt,
                self.settings.webhook_backoff_first_seconds,
                self.settings.webhook_backoff_most_seconds,
            )
            status, next_at = "pending", datetime.now(UTC) + timedelta(seconds=wait)
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await IntegrationRepository(session).finish(
                    claimed,
                    status=status,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    status_code=code,
                    error=error,
                    next_attempt_at=next_at,
                )
        except Exception:
            # The lease runs out and the row is claimed again: sent once more.
            logger.warning("storing the outcome of delivery %s failed", claimed.id, exc_info=True)
            return
        if status == "delivered":
            self.delivered += 1
        else:
            self.failed += 1
            if status == "dead":
                logger.warning(
                    "webhook delivery %s (%s to endpoint %s) is dead after %d tries: %s",
                    claimed.id,
                    claimed.event_type,
                    claimed.endpoint_id,
                    claimed.attempt,
                    error,
                )

    async def _purge(self) -> None:
        """Events past the stream's retention, about once an hour."""
        if time.monotonic() - self._purged_at < 3600:
            return
        self._purged_at = time.monotonic()
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await IntegrationRepository(session).purge_events(
                    self.settings.integration_events_retention_days
                )
        except Exception:
            logger.warning("purging old integration events failed", exc_info=True)
