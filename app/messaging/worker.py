"""The outbox worker, one per Tamas instance (built in the lifespan): claims due texts,
sends them, writes what happened; asks the provider for delivery reports; runs the sweeps
that find causes no request brings (contracts ending, calls owed a survey link).

Exactly once, as far as it can be had:
- a cause queues one row (``idempotency_key`` unique, in the cause's transaction);
- a row is claimed by one worker at a time (``FOR UPDATE SKIP LOCKED``, then a lease);
- an outcome is written only under the claim (a stalled worker writes nothing);
- a row whose lease ran out (its worker died between sending and writing) is claimed
  again and sent with the same local id: Kavenegar answers a repeated ``localid`` with the
  first message instead of sending another. A provider that does not deduplicate can get
  that one text twice: the window is one send's duration, only on a crash (README).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.messaging.providers import Outgoing, Provider, ProviderError, Sent
from app.messaging.repository import Claimed, OutboxRepository
from app.messaging.service import MessagingService, TriggerBook
from app.messaging.timing import backoff_seconds, in_quiet_hours, next_allowed
from app.tasks import cancelled, within

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: SessionMaker,
        settings: Settings,
        provider: Provider | None,
        *,
        name: str | None = None,
        book: TriggerBook | None = None,
        sweeps: bool = True,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.provider = provider
        self.name = name or worker_name()
        self.book = book or TriggerBook()
        self.sweeps = sweeps
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._polled = 0.0
        self._swept = -1e9
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sms-outbox")

    def wake(self) -> None:
        """Something was queued here: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        if self.provider is not None:
            await self.provider.aclose()

    async def _run(self) -> None:
        while True:
            handled = 0
            try:
                if self.sweeps:
                    await self.sweep()
                handled = await self.run_once()
                await self.poll_reports()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("the SMS outbox worker failed a round", exc_info=True)
            if handled < self.settings.sms_batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self._wake.wait(), self.settings.sms_poll_seconds)

    async def run_once(self) -> int:
        """One claimed batch sent and its outcomes written; how many were claimed."""
        if self.provider is None:
            return 0
        now = datetime.now(UTC)
        if in_quiet_hours(now, self.settings.sms_quiet_hours, self.settings.time_zone):
            return 0
        async with unit_of_work(self.sessionmaker) as session:
            repo = OutboxRepository(session)
            claimed = await repo.claim(self.name, self.settings.sms_batch, self._lease())
            # Opted out since it was queued.
            stopped = await repo.opted_out([c.number for c in claimed])
            if stopped:
                await repo.retry(
                    self.name,
                    [
                        {"id": c.id, "status": "cancelled", "error": "opted out", "wait": 0}
                        for c in claimed
                        if c.number in stopped
                    ],
                )
        to_send = [c for c in claimed if c.number not in stopped]
        if not to_send:
            return len(claimed)
        gate = asyncio.Semaphore(self.settings.sms_concurrency)
        outcomes = await asyncio.gather(*(self._send(gate, c) for c in to_send))
        done, again = [], []
        for claim, outcome in zip(to_send, outcomes, strict=True):
            if isinstance(outcome, Sent):
                done.append(
                    {
                        "id": claim.id,
                        "status": outcome.status,
                        "provider": self.provider.name,
                        "message_id": outcome.message_id,
                    }
                )
            else:
                again.append(self._after_failure(claim, outcome))
        async with unit_of_work(self.sessionmaker) as session:
            repo = OutboxRepository(session)
            await repo.done(self.name, done)
            await repo.retry(self.name, again)
        self.sent += len(done)
        return len(claimed)

    def _lease(self) -> float:
        # Long enough for a whole batch at the provider's slowest (every send timing out).
        rounds = -(-self.settings.sms_batch // self.settings.sms_concurrency)
        return max(self.settings.sms_lease_seconds, rounds * self.settings.sms_timeout_seconds + 5)

    async def _send(self, gate: asyncio.Semaphore, claim: Claimed) -> Sent | ProviderError:
        assert self.provider is not None
        async with gate:
            try:
                return await self.provider.send(Outgoing(claim.id, claim.number, claim.body))
            except ProviderError as exc:
                return exc
            except Exception as exc:  # a bug here must not lose the message
                logger.warning("sending text %d failed unexpectedly", claim.id, exc_info=True)
                return ProviderError(f"unexpected: {type(exc).__name__}", retryable=True)

    def _after_failure(self, claim: Claimed, error: ProviderError) -> dict[str, object]:
        assert self.provider is not None
        if error.maybe_sent and not self.provider.deduplicates:
            # Sending again could text the customer twice: a provider that cannot tell a
            # repeat (sms_http.deduplicates false) gets each text at most once. The agent
            # sees it failed, and why, on the customer's timeline.
            logger.info("text %d may have been sent; not tried again: %s", claim.id, error)
            reason = f"{error}; it may have been sent, so it is not sent again"
            return {"id": claim.id, "status": "failed", "error": reason[:500], "wait": 0}
        if not error.retryable or claim.attempts >= self.settings.sms_max_attempts:
            logger.info("text %d failed for good: %s", claim.id, error)
            return {"id": claim.id, "status": "failed", "error": str(error)[:500], "wait": 0}
        wait = backoff_seconds(
            claim.attempts,
            self.settings.sms_backoff_first_seconds,
            self.settings.sms_backoff_most_seconds,
        )
        now = datetime.now(UTC)
        at = next_allowed(
            now + timedelta(seconds=wait), self.settings.sms_quiet_hours, self.settings.time_zone
        )
        return {
            "id": claim.id,
            "status": "queued",
            "error": str(error)[:500],
            "wait": (at - now).total_seconds(),
        }

    async def poll_reports(self) -> int:
        """Delivery states of texts sent a while ago, from providers that answer it."""
        every = self.settings.sms_status_poll_seconds
        if self.provider is None or not every or time.monotonic() - self._polled < every:
            return 0
        self._polled = time.monotonic()
        now = datetime.now(UTC)
        async with unit_of_work(self.sessionmaker) as session:
            ids = await OutboxRepository(session).awaiting_report(
                self.provider.name,
                now - timedelta(seconds=every),
                now - timedelta(hours=self.settings.sms_status_poll_hours),
                2000,
            )
        if not ids:
            return 0
        try:
            states = await self.provider.statuses(ids)
        except ProviderError as exc:
            logger.info("delivery reports not read: %s", exc)
            return 0
        async with unit_of_work(self.sessionmaker) as session:
            return await OutboxRepository(session).report(self.provider.name, states)

    async def sweep(self, *, force: bool = False) -> int:
        """Causes found by looking: contracts ending (and calls owed a survey link)."""
        if not force and time.monotonic() - self._swept < SWEEP_SECONDS:
            return 0
        self._swept = time.monotonic()
        from app.surveys.service import SurveyService

        today = self.settings.today()
        async with unit_of_work(self.sessionmaker) as session:
            messaging = MessagingService(session, self.settings, self.book)
            queued = await messaging.contracts_expiring(today)
            queued += await SurveyService(session, self.settings).queue_links(messaging)
        if queued:
            self.wake()
        return queued
