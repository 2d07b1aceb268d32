"""When something falls due, as people give it: now, in N minutes, or a date and time in the
Jalali or the Gregorian calendar (Persian digits welcome), read in the service's time zone
unless it names its own offset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import jdatetime

from app.textnorm import to_latin_digits

_MOMENT = re.compile(
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


def parse_moment(text: str, zone: str) -> datetime:
    """A date-time: ``1405-09-20 14:30`` or ``1405/09/20`` (Jalali: a year before 1700),
    ``2026-12-11 14:30`` or any ISO 8601 with an offset. A date alone means its start.
    ValueError when it is none of these."""
    value = to_latin_digits(text.strip())
    match = _MOMENT.match(value)
    if match is None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"not a date and time: {text!r} (e.g. 1405-09-20 14:30 or 2026-12-11T14:30)"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    hour, minute, second = (int(match[k] or 0) for k in ("H", "M", "S"))
    try:
        if year < 1700:
            jalali = jdatetime.datetime(year, month, day, hour, minute, second)
            naive = datetime(*jalali.togregorian().timetuple()[:6])
        else:
            naive = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        calendar = "Jalali" if year < 1700 else "Gregorian"
        raise ValueError(f"not a {calendar} date and time: {text!r} ({exc})") from None
    return naive.replace(tzinfo=ZoneInfo(zone))


def due_from(
    *, at: str | None, in_minutes: int | None, zone: str, now: datetime | None = None
) -> datetime:
    """The moment given by ``at`` or ``in_minutes`` (not both); neither: now."""
    now = now or datetime.now(UTC)
    if at is not None and in_minutes is not None:
        raise ValueError("give either a time (at) or a delay (in_minutes), not both")
    if at is not None:
        return parse_moment(at, zone)
    if in_minutes is not None:
        return now + timedelta(minutes=in_minutes)
    return now
