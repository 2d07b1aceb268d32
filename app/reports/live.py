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
from app.models import Call, CallLeg, User
from app.phones import display_number
from app.reports.service import GroupBy, ReportQuery, ReportService
from app.surveys.service import SurveyService

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
        # Agents whose own answered leg of a live call has ended: that call is not theirs
        # any more (a caller left on alone for the post-call survey, transferred on).
        gone = set()
        if live:
            rows = await self.session.execute(
                select(CallLeg.call_id, CallLeg.user_id).where(
                    CallLeg.call_id.in_([c.id for c in live]),
                    CallLeg.user_id.is_not(None),
                    CallLeg.answered_at.is_not(None),
                    CallLeg.ended_at.is_not(None),
                )
            )
            gone = {(call_id, user_id) for call_id, user_id in rows.all()}
        calls = []
        waiting: dict[str, list[dict[str, Any]]] = {}
        talking: set[int] = set()
        for call in live:
            state = "talking" if call.answered_at else "waiting" if call.queue else "ringing"
            agent_id = call.answered_by_user_id
            if agent_id is not None and (call.id, agent_id) not in gone:
                talking.add(agent_id)
            calls.append(
                {
                    "id": call.id,
                    "direction": call.direction,
                    "number": call.customer_number or call.caller_number,
                    "number_display": display_number(
                        call.customer_number or call.caller_number, self.settings.default_region
                    ),
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
                        "number_display": display_number(
                            call.customer_number, self.settings.default_region
                        ),
                        "since": joined.isoformat(),
                        "waited_seconds": round((now - joined).total_seconds(), 1),
                    }
                )
        with_phones = [u for u in users if u.devices]
        agent_service = AgentService(self.session, self.settings)
        statuses = await agent_service.statuses(with_phones)
        zone = ZoneInfo(self.settings.time_zone)
        midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        reports = ReportService(self.session)

        def day(by: GroupBy) -> ReportQuery:
            return ReportQuery(
                start=midnight, end=midnight + timedelta(days=1), by=by, tz=self.settings.time_zone
            )

        today, total = await reports.report(day("queue"))
        handled = {
            r["key"]: r["answered"] + r["outbound_answered"]
            for r in await reports.kpi(day("agent"))
        }
        # Satisfaction of the day from the post-call surveys (app/surveys): per agent, per
        # queue, and all of it.
        surveys = SurveyService(self.session, self.settings)
        end_of_day = midnight + timedelta(days=1)
        csat_agents = await surveys.csat(midnight, end_of_day, "agent")
        csat_queues = await surveys.csat(midnight, end_of_day, "queue")
        answers = sum(r["answers"] for r in csat_agents)
        satisfied = sum(r["satisfied"] for r in csat_agents)
        csat_of_agent = {r["key"]: r["csat_pct"] for r in csat_agents if r["key"] != ""}
        changed = await self._changed_at(agent_service, with_phones)
        answered_at = {c.answered_by_user_id: c.answered_at for c in live if c.answered_by_user_id}
        agents = []
        for user in with_phones:
            status = statuses[user.id]
            state = status["state"]
            if user.id in talking:
                state = "on_call"
            # Time in state: on a call since it was answered; otherwise since the PBX last
            # reported a change of the agent's memberships.
            since = answered_at.get(user.id) if state == "on_call" else changed.get(user.id)
            agents.append(
                {
                    "user_id": user.id,
                    "name": names[user.id],
                    "state": state,
                    "reason": status["reason"],
                    "wrapup_until": status["wrapup_until"],
                    "queues": sorted({q["queue"] for q in status["queues"]}),
                    "since": since.isoformat() if since else None,
                    "handled_today": handled.get(user.id, 0),
                    "csat_today_pct": csat_of_agent.get(user.id),
                    # What a supervisor can log them in to or out of from the wallboard.
                    "login_queues": status["login_queues"],
                }
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
            "today_total": total,
            "csat_today": {
                "answers": answers,
                "satisfied": satisfied,
                "csat_pct": round(100.0 * satisfied / answers, 1) if answers else None,
                "by_queue": {r["key"]: r["csat_pct"] for r in csat_queues if r["key"]},
            },
            "service_level_seconds": ReportQuery.service_level_seconds,
        }

    async def _changed_at(self, agents: AgentService, users: list[User]) -> dict[int, datetime]:
        """When the PBX last reported a change of each user's queue memberships."""
        wanted = {u.id: set(agents.interfaces(u)) for u in users}
        if not wanted:
            return {}
        rows = await agents.repo.of_interfaces(sorted(set().union(*wanted.values())))
        out: dict[int, datetime] = {}
        for user_id, interfaces in wanted.items():
            times = [
                r.updated_at
                for r in rows
                if (r.pbx, r.interface) in interfaces or (r.pbx, r.state_interface) in interfaces
            ]
            if times:
                out[user_id] = max(times)
        return out
