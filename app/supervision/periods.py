"""Period reports (pure): the calls' daily figures grouped by day, week, Jalali month or
Gregorian month, each group's rates worked out from its sums (never an average of
averages), and a period compared with the one before it.

Figures per group, with the KPI report's definitions: offered, answered, abandoned (short
abandons apart), missed, service level (answered within the threshold, in % of offered
minus short abandons), answer rate (answered in % of offered), ASA (mean wait of answered
calls), average talk time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import jdatetime

Grouping = Literal["day", "week", "month", "jalali_month"]
COUNTS = ("offered", "answered", "abandoned", "short_abandoned", "missed", "answered_in_sl")
SUMS = ("wait_answered", "talk_answered")
FIGURES = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "missed",
    "service_level_pct",
    "answer_rate_pct",
    "asa_seconds",
    "avg_talk_seconds",
    "longest_wait_seconds",
)


@dataclass
class DayFigures:
    """One local day's sums (from the repository)."""

    day: date
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    missed: int = 0
    answered_in_sl: int = 0
    wait_answered: float = 0.0
    talk_answered: float = 0.0
    longest_wait: float = 0.0


@dataclass
class Group:
    key: str
    first_day: date
    last_day: date
    days: list[DayFigures] = field(default_factory=list)


def bucket(day: date, by: Grouping, week_starts: int = 5) -> tuple[str, date, date]:
    """The group a day is in: its key and its first and last day. ``week_starts`` is a
    weekday number (Monday 0 ... Saturday 5: Iranian weeks start on Saturday)."""
    if by == "day":
        return day.isoformat(), day, day
    if by == "week":
        first = day - timedelta(days=(day.weekday() - week_starts) % 7)
        return first.isoformat(), first, first + timedelta(days=6)
    if by == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first.strftime("%Y-%m"), first, following - timedelta(days=1)
    jalali = jdatetime.date.fromgregorian(date=day)
    start = jdatetime.date(jalali.year, jalali.month, 1)
    after = (
        jdatetime.date(jalali.year + 1, 1, 1)
        if jalali.month == 12
        else jdatetime.date(jalali.year, jalali.month + 1, 1)
    )
    first = start.togregorian()
    return f"{jalali.year}-{jalali.month:02d}", first, after.togregorian() - timedelta(days=1)


def grouped(days: Iterable[DayFigures], by: Grouping, week_starts: int = 5) -> list[Group]:
    groups: dict[str, Group] = {}
    for figures in sorted(days, key=lambda d: d.day):
        key, first, last = bucket(figures.day, by, week_starts)
        groups.setdefault(key, Group(key, first, last)).days.append(figures)
    return list(groups.values())


def figures(days: Sequence[DayFigures]) -> dict[str, Any]:
    """A group's figures from its days' sums."""
    total = {k: sum(getattr(d, k) for d in days) for k in COUNTS + SUMS}
    base = total["offered"] - total["short_abandoned"]
    answered = total["answered"]
    return {
        **{k: total[k] for k in COUNTS if k != "answered_in_sl"},
        "service_level_pct": round(100 * total["answered_in_sl"] / base, 1) if base else None,
        "answer_rate_pct": round(100 * answered / total["offered"], 1)
        if total["offered"]
        else None,
        "asa_seconds": round(total["wait_answered"] / answered, 1) if answered else None,
        "avg_talk_seconds": round(total["talk_answered"] / answered, 1) if answered else None,
        "longest_wait_seconds": round(max((d.longest_wait for d in days), default=0.0), 1),
    }


def compared(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Each figure now, before, and the change (absolute, and in % of before)."""
    out = {}
    for key in FIGURES:
        a, b = now.get(key), before.get(key)
        delta = round(a - b, 1) if a is not None and b is not None else None
        pct = round(100 * (a - b) / b, 1) if a is not None and b else None
        out[key] = {"now": a, "before": b, "delta": delta, "delta_pct": pct}
    return out
