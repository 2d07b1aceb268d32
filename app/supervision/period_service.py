"""Period reports over stored calls: grouped (day, week, Jalali or Gregorian month), the
whole period compared with the one before it (as long, just before), and the hour-of-day
heat map of answered and abandoned calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.supervision.periods import DayFigures, Grouping, compared, figures, grouped
from app.supervision.repository import PeriodRepository

WEEKDAYS = {"saturday": 5, "monday": 0}


@dataclass(frozen=True)
class PeriodQuery:
    start: datetime
    end: datetime
    by: Grouping
    tz: str
    queue: str | None = None
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    week_starts: str = "saturday"


class PeriodService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = PeriodRepository(session)

    async def _days(self, q: PeriodQuery, start: datetime, end: datetime) -> list[DayFigures]:
        rows = await self.repo.days(
            start,
            end,
            q.tz,
            queue=q.queue,
            service_level_seconds=q.service_level_seconds,
            short_abandon_seconds=q.short_abandon_seconds,
        )
        return [
            DayFigures(d, n, a, ab, sh, m, sl, float(w), float(t), float(lw))
            for d, n, a, ab, sh, m, sl, w, t, lw in rows
        ]

    async def report(self, q: PeriodQuery) -> dict[str, Any]:
        days = await self._days(q, q.start, q.end)
        before_start = q.start - (q.end - q.start)
        before = await self._days(q, before_start, q.start)
        groups = grouped(days, q.by, WEEKDAYS[q.week_starts])
        now_total, before_total = figures(days), figures(before)
        return {
            "from": q.start.isoformat(),
            "to": q.end.isoformat(),
            "by": q.by,
            "groups": [
                {
                    "key": g.key,
                    "first_day": g.first_day.isoformat(),
                    "last_day": g.last_day.isoformat(),
                    **figures(g.days),
                }
                for g in groups
            ],
            "total": now_total,
            "previous": {
                "from": before_start.isoformat(),
                "to": q.start.isoformat(),
                "total": before_total,
            },
            "compared": compared(now_total, before_total),
        }

    async def heatmap(self, q: PeriodQuery) -> dict[str, Any]:
        """Per weekday (ISO: 1 Monday ... 7 Sunday) and hour: answered and abandoned."""
        answered = [[0] * 24 for _ in range(7)]
        abandoned = [[0] * 24 for _ in range(7)]
        for dow, hour, a, b in await self.repo.heat(q.start, q.end, q.tz, q.queue):
            answered[dow - 1][hour] += a
            abandoned[dow - 1][hour] += b
        return {
            "from": q.start.isoformat(),
            "to": q.end.isoformat(),
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "answered": answered,
            "abandoned": abandoned,
        }
