"""Agents' activity: the intervals kept from the PBX's events (``activity.py`` moves them
on; this reads and writes them inside the listener's transaction) and the figures made of
them.

Figures per agent over any period (every interval clipped to it; one still open counts up
to now):

- logged in: every second the agent was a member of at least one queue;
- talk, ringing, wrap-up (Tamas's after-call pause), pause by reason, idle (reachable, not
  paused, no call), unavailable (in a queue, phone unreachable);
- signed in to Tamas: every second a panel of theirs was open (a track of its own, from
  Tamas, not the PBX: see ``signin_service.py``); not part of logged in;
- occupancy = (talk + wrap-up) / (logged in - pause): how busy they were while available;
- utilisation = (talk + wrap-up) / logged in;
- calls handled (calls they answered that started in the period) and calls per logged-in
  hour; missed rings (queue rings that timed out or were declined: AgentRingNoAnswer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.service import devices_named_in
from app.supervision.activity import SIGNED_IN, STATES, Interval, Intervals
from app.supervision.repository import ActivityRepository
from telephony.members import AgentSignal, MemberSnapshot, MemberState


def _ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


class ActivityService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ActivityRepository(session)

    # -- from the PBX's events (inside the listener's transaction) ----------------------------

    async def record(
        self,
        changes: Sequence[MemberState],
        snapshot: MemberSnapshot | None,
        signals: Sequence[AgentSignal] = (),
    ) -> int:
        """Move the intervals on by a snapshot (first: it comes after a resync, with what
        was held before it dropped) and these events. Member events and Agent* events come
        in two lists, each in order: they are taken by time, an Agent* event first on a tie
        (it says why the device state that follows it changed). Returns how many intervals
        were written."""
        if snapshot is not None:
            signals = [s for s in signals if s.at >= snapshot.at]
        if not changes and not signals and snapshot is None:
            return 0
        keyed: list[tuple[float, int, int, MemberState | AgentSignal]] = [
            (s.at, 0, n, s) for n, s in enumerate(signals)
        ]
        keyed += [(m.at, 1, n, m) for n, m in enumerate(changes)]
        events = [item for *_, item in sorted(keyed, key=lambda x: x[:3])]
        pairs = {(m.pbx, m.interface) for m in events}
        if snapshot is not None:
            pairs |= {(m.pbx, m.interface) for m in snapshot.members}
        rows = await self.repo.open_of(
            sorted(pairs), snapshot.pbx if snapshot is not None else None
        )
        intervals = Intervals(
            Interval(
                r.pbx,
                r.interface,
                r.queue,
                r.state,
                r.reason,
                r.started_at.timestamp(),
                None,
                r.id,
                r.user_id,
            )
            for r in rows
        )
        if snapshot is not None:
            intervals.snapshot(snapshot)
        intervals.feed(events)
        added = intervals.to_insert()
        users = await self._users(changes, snapshot, added)
        await self.repo.write(
            [
                (i.id, _ts(i.ended_at), i.reason)
                for i in intervals.closed
                if i.id is not None and i.ended_at is not None
            ],
            [
                {
                    "pbx": i.pbx,
                    "interface": i.interface[:200],
                    "queue": i.queue[:80],
                    "user_id": users.get((i.pbx, i.interface)),
                    "state": i.state,
                    "reason": i.reason[:80],
                    "started_at": _ts(i.started_at),
                    "ended_at": _ts(i.ended_at) if i.ended_at is not None else None,
                }
                for i in added
            ],
        )
        return len(intervals.closed) + len(added)

    async def _users(
        self,
        changes: Sequence[MemberState],
        snapshot: MemberSnapshot | None,
        added: Sequence[Interval],
    ) -> dict[tuple[str, str], int]:
        """Whose each interface is: the owner of its state interface (the phone), of the
        interface itself, or of the phone a Local member names."""
        if not added:
            return {}
        seen = list(changes) + (list(snapshot.members) if snapshot is not None else [])
        state_of = {(m.pbx, m.interface): m.state_interface for m in seen}
        wanted = {(i.pbx, i.interface) for i in added}
        candidates: dict[tuple[str, str], list[str]] = {}
        for pbx, interface in wanted:
            devices = [state_of.get((pbx, interface), ""), interface]
            devices += sorted(devices_named_in(interface))
            candidates[(pbx, interface)] = [d for d in devices if d]
        owners = await self.repo.users_of(sorted({d for ds in candidates.values() for d in ds}))
        out: dict[tuple[str, str], int] = {}
        for key, devices in candidates.items():
            owner = next((owners[d] for d in devices if d in owners), None)
            if owner is not None:
                out[key] = owner
        return out

    # -- the figures --------------------------------------------------------------------------

    async def report(
        self,
        start: datetime,
        end: datetime,
        users: Sequence[int] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Per agent (``users``, or everyone with activity) and the team's total."""
        now = now or datetime.now(UTC)
        seconds = await self.repo.seconds(start, end, now, users)
        missed = await self.repo.missed_rings(start, end, users)
        handled = await self.repo.calls_answered(start, end, users)
        ids = sorted({u for u, *_ in seconds} | set(missed) | set(handled))
        names = await self.repo.names(ids)
        per: dict[int, dict[str, Any]] = {u: _empty() for u in ids}
        for user_id, state, reason, length in seconds:
            row = per[user_id]
            row[f"{state}_seconds"] += length
            if state == "pause":
                row["pause_by_reason"][reason] = row["pause_by_reason"].get(reason, 0.0) + length
        for user_id, n in missed.items():
            per[user_id]["missed_rings"] = n
        for user_id, n in handled.items():
            per[user_id]["calls_handled"] = n
        agents = [{"user_id": u, "name": names.get(u, str(u)), **_finish(per[u])} for u in ids]
        team = _empty()
        for u in ids:
            for key, value in per[u].items():
                if key == "pause_by_reason":
                    for reason, length in value.items():
                        team[key][reason] = team[key].get(reason, 0.0) + length
                else:
                    team[key] += value
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "agents": agents,
            "team": _finish(team),
        }

    async def timeline(
        self,
        user_id: int,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
        signed_in: bool = False,
    ) -> list[dict[str, Any]]:
        """The agent's intervals within [start, end), clipped to it, in order: the PBX's, or
        (``signed_in``) their sign-ins to Tamas."""
        now = now or datetime.now(UTC)
        out = []
        rows = await self.repo.intervals(start, end, user_id, signed_in)
        for state, reason, began, ended in rows:
            lo, hi = max(began, start), min(ended or now, end)
            if hi > lo:
                out.append(
                    {
                        "state": state,
                        "reason": reason,
                        "from": lo.isoformat(),
                        "to": hi.isoformat(),
                        "seconds": round((hi - lo).total_seconds(), 1),
                        "open": ended is None,
                    }
                )
        return out


def _empty() -> dict[str, Any]:
    row: dict[str, Any] = {f"{s}_seconds": 0.0 for s in (*STATES, SIGNED_IN)}
    row.update(pause_by_reason={}, missed_rings=0, calls_handled=0)
    return row


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    logged_in = sum(row[f"{s}_seconds"] for s in STATES)
    busy = row["talking_seconds"] + row["wrapup_seconds"]
    available = logged_in - row["pause_seconds"]
    out = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
    out["pause_by_reason"] = {k: round(v, 1) for k, v in sorted(row["pause_by_reason"].items())}
    out["logged_in_seconds"] = round(logged_in, 1)
    out["occupancy_pct"] = round(100 * busy / available, 1) if available > 0 else None
    out["utilisation_pct"] = round(100 * busy / logged_in, 1) if logged_in > 0 else None
    hours = logged_in / 3600
    out["calls_per_hour"] = round(row["calls_handled"] / hours, 2) if hours > 0 else None
    return out
