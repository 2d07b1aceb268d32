"""The live wallboard's picture, built from what is stored (so every instance can serve it):
calls up now, callers waiting per queue, each agent's state, and today's counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.agents.service import AgentService
from app.config import Settings
from app.models import Call, User
from app.reports.service import ReportQuery, ReportService

# A call "live" for longer than this is a leftover (its end was never seen), not shown.
STALE = timedelta(hours=12)


class LiveBoard:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def snapshot(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        live = list(
            (
                await self.session.execute(
                    select(Call)
                    .where(Call.outcome == "live", Call.started_at > now - STALE)
                    .order_by(Call.started_at)
                )
            ).scalars()
        )
        users = list(
            (
                await self.session.execute(
                    select(User)
                    .where(User.is_active.is_(True))
                    .options(selectinload(User.devices))
                    .order_by(User.full_name, User.username)
                )
            ).scalars()
        )
        names = {u.id: u.full_name or u.username for u in users}
        calls = []
        waiting: dict[str, list[dict[str, Any]]] = {}
        talking: set[int] = set()
        for call in live:
            state = "talking" if call.answered_at else "waiting" if call.queue else "ringing"
            if call.answered_by_user_id is not None:
                talking.add(call.answered_by_user_id)
            calls.append(
                {
                    "id": call.id,
                    "direction": call.direction,
                    "number": call.customer_number or call.caller_number,
                    "caller_name": call.caller_name,
                    "queue": call.queue,
                    "agent": names.get(call.answered_by_user_id or 0, ""),
                    "state": state,
                    "started_at": call.started_at.isoformat(),
                    "answered_at": call.answered_at.isoformat() if call.answered_at else None,
                }
            )
            if state == "waiting":
                joined = call.queue_joined_at or call.started_at
                waiting.setdefault(call.queue, []).append(
                    {
                        "call_id": call.id,
                        "number": call.customer_number,
                        "since": joined.isoformat(),
                        "waited_seconds": round((now - joined).total_seconds(), 1),
                    }
                )
        with_phones = [u for u in users if u.devices]
        statuses = await AgentService(self.session, self.settings).statuses(with_phones)
        agents = []
        for user in with_phones:
            status = statuses[user.id]
            state = status["state"]
            if user.id in talking:
                state = "on_call"
            agents.append(
                {
                    "user_id": user.id,
                    "name": names[user.id],
                    "state": state,
                    "reason": status["reason"],
                    "wrapup_until": status["wrapup_until"],
                    "queues": sorted({q["queue"] for q in status["queues"]}),
                    # What a supervisor can log them in to or out of from the wallboard.
                    "login_queues": status["login_queues"],
                }
            )
        zone = ZoneInfo(self.settings.time_zone)
        midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        today = await ReportService(self.session).kpi(
            ReportQuery(
                start=midnight,
                end=midnight + timedelta(days=1),
                by="queue",
                tz=self.settings.time_zone,
            )
        )
        return {
            "at": now.isoformat(),
            "calls": calls,
            "queues": [
                {
                    "queue": q,
                    "waiting": w,
                    "longest_wait_seconds": max(x["waited_seconds"] for x in w),
                }
                for q, w in sorted(waiting.items())
            ],
            "agents": agents,
            "pause_reasons": list(self.settings.pause_reasons),
            "today": today,
        }
