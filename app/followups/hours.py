"""The clock an SLA is measured on (pure): plain wall-clock time, or office hours on working
days (a weekend of configurable days, Friday in Iran, and holidays), in the service's time
zone. Deadlines are start + target on that clock; elapsed times are measured on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from app.config import Settings

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Far enough for any target (a year of minutes) on any calendar with one working day a week.
_MAX_DAYS = 4000


class Clock(Protocol):
    def deadline(self, start: datetime, minutes: int) -> datetime: ...
    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


class WallClock:
    """Every minute counts."""

    def deadline(self, start: datetime, minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


@dataclass(frozen=True)
class BusinessHours:
    """Office hours ``opens``-``closes`` on every day but the weekend and the holidays."""

    opens: time
    closes: time
    weekend: frozenset[int]  # date.weekday() numbers
    holidays: frozenset[date]
    zone: ZoneInfo

    @staticmethod
    def from_settings(settings: Settings) -> BusinessHours | None:
        """The settings' office hours; None when unset (wall clock)."""
        if not settings.business_hours:
            return None
        first, last = settings.business_hours.split("-")
        try:
            opens, closes = time.fromisoformat(first), time.fromisoformat(last)
        except ValueError:
            raise ValueError(
                f"business_hours {settings.business_hours!r}: not HH:MM-HH:MM"
            ) from None
        if closes <= opens:
            raise ValueError("business_hours: the office must close after it opens")
        weekend = frozenset(_WEEKDAYS.index(d.strip().lower()) for d in settings.business_weekend)
        if len(weekend) == 7:
            raise ValueError("business_weekend: at least one working day is needed")
        return BusinessHours(
            opens,
            closes,
            weekend,
            _holidays(settings.business_holidays),
            ZoneInfo(settings.time_zone),
        )

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() in self.weekend or day in self.holidays:
            return None
        return (
            datetime.combine(day, self.opens, self.zone),
            datetime.combine(day, self.closes, self.zone),
        )

    def deadline(self, start: datetime, minutes: int) -> datetime:
        left = timedelta(minutes=minutes)
        at = start.astimezone(self.zone)
        day = at.date()
        for _ in range(_MAX_DAYS):
            window = self._window(day)
            if window is not None:
                opens, closes = window
                at = max(at, opens)
                if at < closes:
                    if at + left <= closes:
                        return at + left
                    left -= closes - at
            day += timedelta(days=1)
        raise ValueError("no working time within reach: check business hours and weekend")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                opens, closes = max(window[0], start), min(window[1], end)
                if closes > opens:
                    total += closes - opens
            day += timedelta(days=1)
        return total


def _holidays(values: list[str]) -> frozenset[date]:
    from app.contracts.schemas import parse_day

    out = set()
    for value in values:
        parsed = parse_day(value)
        try:
            out.add(parsed if isinstance(parsed, date) else date.fromisoformat(parsed))
        except ValueError:
            raise ValueError(f"business_holidays: {value!r} is not a date") from None
    return frozenset(out)


def clock_of(settings: Settings) -> Clock:
    """The SLA clock the settings ask for."""
    return BusinessHours.from_settings(settings) or WallClock()
