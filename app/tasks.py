"""Background tasks that the lifespan starts and stops, and waiting with a time limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def cancelled(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has stopped (None: nothing to do); the
    owner then drops its handle.

    The cancel is sent again until the task is done: a task may swallow one (on Python 3.11
    ``asyncio.wait_for`` does when the cancel arrives just as what it waits for completes),
    and a single cancel would then leave this waiting for ever."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """``asyncio.wait_for`` without its flaw on Python 3.11: there a cancel that arrives just
    as the awaited thing completes is lost, and a loop that was told to stop runs on.
    Raises TimeoutError when ``seconds`` (None: no limit) pass first."""
    async with asyncio.timeout(seconds):
        return await aw
