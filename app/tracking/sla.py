"""Case SLAs (pure): a case's deadlines from its targets on the SLA clock (wall clock, or
office hours: app.followups.hours), whether it breached them, and the times it took."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.followups.hours import Clock

PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Targets:
    first_response_minutes: int | None
    resolution_minutes: int | None


def deadlines(
    opened: datetime, targets: Targets | None, clock: Clock
) -> tuple[datetime | None, datetime | None]:
    """(first response due, resolution due) for a case opened at ``opened``."""
    if targets is None:
        return None, None
    first = targets.first_response_minutes
    whole = targets.resolution_minutes
    return (
        clock.deadline(opened, first) if first is not None else None,
        clock.deadline(opened, whole) if whole is not None else None,
    )


def breached(due: datetime | None, met_at: datetime | None, now: datetime) -> bool:
    """Past its deadline: met late, or not met and the deadline has passed."""
    if due is None:
        return False
    return (met_at or now) > due


def took(opened: datetime, met_at: datetime | None, clock: Clock) -> timedelta | None:
    return None if met_at is None else clock.elapsed(opened, met_at)
