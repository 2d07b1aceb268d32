"""Stopping background tasks: a cancel is never lost, so a stop never waits for ever."""

from __future__ import annotations

import asyncio

import pytest

from app.tasks import cancelled, within


async def test_a_task_that_swallows_a_cancel_is_still_stopped() -> None:
    cancels = 0

    async def stubborn() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancels += 1
                if cancels == 1:
                    continue  # lost, as asyncio.wait_for loses one on Python 3.11
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancelled(task), 10)
    assert task.cancelled()
    assert cancels == 2


async def test_a_cancel_that_comes_as_the_wait_ends_is_kept() -> None:
    # The worker loops wait for a wake-up with a time limit; a stop arriving in the same
    # moment as a wake-up must still stop them.
    woken = asyncio.Event()

    async def waiting() -> None:
        await within(woken.wait(), 5)

    task = asyncio.create_task(waiting())
    await asyncio.sleep(0)
    woken.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_within_gives_the_result_or_a_timeout() -> None:
    async def answer() -> int:
        return 42

    assert await within(answer(), 1) == 42
    assert await within(answer(), None) == 42
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(10), 0.01)
