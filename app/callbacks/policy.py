"""The retry policy (pure): what a try's outcome does to a callback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RETRY = ("no_answer", "busy")
OUTCOMES = ("no_answer", "busy", "reached", "wrong_number")


@dataclass(frozen=True)
class Next:
    done: bool
    reason: str = ""  # when done: reached, wrong_number or gave_up
    due_at: datetime | None = None  # when not: the next try


def after_try(outcome: str, tries: int, max_tries: int, retry_minutes: int, now: datetime) -> Next:
    """``tries`` counts this one. Reached or a wrong number: done. Not answered or busy: due
    again ``retry_minutes`` later, until ``max_tries`` tries are used up (gave_up)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if outcome not in RETRY:
        return Next(True, outcome)
    if tries >= max_tries:
        return Next(True, "gave_up")
    return Next(False, due_at=now + timedelta(minutes=retry_minutes))
