"""The supervisors' call-history filters, parsed once (dates ISO or Jalali, in the configured
time zone; numbers in any format) and turned into SQL by the repository."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.contracts.schemas import parse_day
from app.errors import InvalidInput
from app.phones import try_parse_phone
from app.schemas import MAX_BIGINT

SortKey = Literal["started_at", "talk_seconds", "wait_seconds"]


@dataclass(frozen=True)
class HistoryFilter:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    agent_id: int | None = None
    queue: str | None = None
    direction: str | None = None
    outcomes: tuple[str, ...] = ()
    missed_reasons: tuple[str, ...] = ()
    customer_id: int | None = None
    number: str | None = None  # raw, as typed
    e164: str | None = None
    tracking_code: str | None = None
    min_talk: float | None = None
    max_talk: float | None = None
    has_recording: bool | None = None
    disposition: str | None = None
    sort: SortKey = "started_at"
    ascending: bool = False
    # Agents: only calls they answered or that rang their phones.
    only_user_id: int | None = None
    after: tuple[float | str, int] | None = field(default=None)


def day_bounds(
    start: str | None, end: str | None, tz: str
) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` as people give them: a day (ISO 2026-11-23 or Jalali 1405-09-02)
    means the whole day in the configured time zone; a full ISO time is taken as it is."""
    zone = ZoneInfo(tz)

    def one(text: str | None, upper: bool) -> datetime | None:
        if not text:
            return None
        if "T" in text or ":" in text:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise InvalidInput(
                    f"not a date or time: {text}",
                    field="to" if upper else "from",
                    code="date_invalid",
                ) from None
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
        try:
            parsed = parse_day(text)
            day = parsed if isinstance(parsed, date) else date.fromisoformat(str(parsed))
        except ValueError:
            raise InvalidInput(
                f"not a date: {text} (2026-11-23 or Jalali 1405-09-02)",
                field="to" if upper else "from",
                code="date_invalid",
            ) from None
        if upper:
            day += timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=zone)

    try:
        first, last = one(start, False), one(end, True)
        # Where the database will need them: in UTC. Year 1 or 9999 pushed over the edge by
        # the zone (or the day after the last) is out of range, not a server error.
        for moment in (first, last):
            if moment is not None:
                moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            "a date is out of range (years 1 to 9999)", code="date_out_of_range"
        ) from None
    if first and last and last <= first:
        raise InvalidInput("'to' is before 'from'", field="to", code="date_order")
    return first, last


def number_filter(text: str | None, region: str) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    parsed = try_parse_phone(text, region)
    return text.strip(), parsed.e164 if parsed else None


def encode_cursor(value: float | str, call_id: int) -> str:
    raw = json.dumps([value, call_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | str, int]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        value, call_id = json.loads(raw)
        if type(call_id) is not int or not 1 <= call_id <= MAX_BIGINT:
            raise ValueError
        if not isinstance(value, int | float | str):
            raise ValueError
        return value, call_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("cursor is not one this API returned", field="cursor") from exc
