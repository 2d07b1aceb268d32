"""Webhook deliveries in a process of their own (``TAMAS_WEBHOOK_WORKER=process``).

Each delivery costs some CPU (the request, the signature, two statements): in the serving
process that time is taken from the event loop that writes the screen-pops. ``tamas serve``
can instead start ``tamas webhooks`` as a child process, which runs the same
:class:`~app.integrations.worker.WebhookWorker` against the same outbox (claims with
``SKIP LOCKED``, so any number of them and of inline workers share it safely), woken by the
same NOTIFY. The child is started again if it dies, told to stop (SIGTERM: the deliveries in
flight are put back) when Tamas stops, and stops by itself if its parent disappears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

import asyncpg

from app.config import Settings
from app.db import Database
from app.integrations.repository import NOTIFY_CHANNEL
from app.integrations.worker import WebhookWorker
from app.tasks import cancelled, within

logger = logging.getLogger(__name__)

STOP_SECONDS = 15.0  # a stopping child may take this long before it is killed
CHILD_POOL_SIZE = 4


def child_env(settings: Settings, database_url: str) -> dict[str, str]:
    """The environment of the child: this one, with the database this process opened (the
    embedded one too) and the settings the worker reads, as this process has them."""
    env = dict(os.environ)
    env["TAMAS_DATABASE_URL"] = database_url
    env["TAMAS_DB_POOL_SIZE"] = str(CHILD_POOL_SIZE)
    env["TAMAS_RUN_MIGRATIONS_ON_START"] = "false"
    env["TAMAS_ENVIRONMENT"] = settings.environment
    env["TAMAS_SECRET_KEY"] = settings.secret_key.get_secret_value()
    env["TAMAS_LOG_LEVEL"] = settings.log_level
    env["TAMAS_LOG_FORMAT"] = settings.log_format
    for name in type(settings).model_fields:
        if name.startswith("webhook_") and name != "webhook_worker":
            env[f"TAMAS_{name.upper()}"] = str(getattr(settings, name))
    return env


class WebhookProcess:
    """``tamas webhooks`` as a child of this process, kept running."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.env = child_env(settings, database_url)
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-process")

    async def _run(self) -> None:
        delay = 1.0
        while True:
            command = [sys.executable, "-m", "app.cli", "webhooks", "--parent", str(os.getpid())]
            self.proc = await asyncio.create_subprocess_exec(*command, env=self.env)
            self.starts += 1
            logger.info("webhooks: delivering in process %d", self.proc.pid)
            code = await self.proc.wait()
            logger.warning(
                "webhooks: the delivery process exited (%s); starting it again in %.0f s",
                code,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await within(proc.wait(), STOP_SECONDS)
        except TimeoutError:
            logger.warning("webhooks: the delivery process did not stop; killing it")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def run_worker(settings: Settings, parent: int | None = None) -> None:
    """The webhook worker alone (``tamas webhooks``), until SIGTERM or SIGINT, or until the
    process ``parent`` is gone."""
    db = await Database(settings).open(migrate=False)
    assert db.sessionmaker is not None
    worker = WebhookWorker(db.sessionmaker, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    listening: Any = None
    worker.start()
    try:
        while not stop.is_set():
            if listening is None or listening.is_closed():
                listening = await _listen(db.dsn, worker)
            with contextlib.suppress(TimeoutError):
                await within(stop.wait(), 1.0)
            if parent is not None and os.getppid() != parent:
                logger.warning("webhooks: Tamas (process %d) is gone; stopping", parent)
                break
    finally:
        await worker.stop()
        if listening is not None and not listening.is_closed():
            await listening.close()
        await db.close()


async def _listen(dsn: str, worker: WebhookWorker) -> Any:
    """A connection that wakes the worker at each NOTIFY; None when the database cannot be
    reached now (the worker also looks every second by itself)."""
    try:
        conn = await asyncpg.connect(dsn)
        await conn.add_listener(NOTIFY_CHANNEL, lambda *_: worker.changed())
        return conn
    except (OSError, asyncpg.PostgresError) as exc:
        logger.warning("webhooks: cannot listen for new events (%s); looking every second", exc)
        return None
