"""The event stream's clients wait here for the integrations' notifications (the same
PostgreSQL NOTIFY that wakes the webhook worker: whichever instance wrote an event, every
instance's streams hear of it). Pure asyncio."""

from __future__ import annotations

import asyncio
import contextlib

from app.tasks import within


class EventStream:
    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.clients = 0
        self.closing = False

    def changed(self, *_: object) -> None:
        """New events were committed: wake every stream (each reads what is new for it)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        """Shutting down: every stream ends (EventSource clients reconnect elsewhere)."""
        self.closing = True
        self.changed()

    async def wait(self, most: float) -> None:
        """Until the next notification (or ``most`` seconds: a stream also looks by itself
        now and then, should a notification have been lost)."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await within(event.wait(), most)
