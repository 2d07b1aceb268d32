"""When a text may go: quiet hours (local time) and the waits between tries. Pure."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_window(window: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` as (start, end); ``""`` is None (no quiet hours)."""
    if not window:
        return None
    start, end = window.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def in_quiet_hours(at: datetime, window: str, tz: str) -> bool:
    quiet = parse_window(window)
    if quiet is None:
        return False
    start, end = quiet
    now = at.astimezone(ZoneInfo(tz)).time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end  # across midnight


def next_allowed(at: datetime, window: str, tz: str) -> datetime:
    """``at`` itself outside quiet hours, else the moment they end (as an aware UTC time)."""
    if not in_quiet_hours(at, window, tz):
        return at
    quiet = parse_window(window)
    assert quiet is not None
    _, end = quiet
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    opens = datetime.combine(local.date(), end, tzinfo=zone)
    if opens <= local:
        opens = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    # combine() with a zone picks the wall time; a DST gap moves it forward, never back.
    return opens.astimezone(at.tzinfo)


def backoff_seconds(attempts: int, first: float, most: float) -> float:
    """The wait after the ``attempts``-th failed try: first, 2*first, 4*first... at most
    ``most``."""
    return float(min(most, first * 2.0 ** max(0, attempts - 1)))
