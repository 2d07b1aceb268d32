"""A customer's support-contract status on a day (pure): active, expiring (soon), expired,
or none."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol


class _Contract(Protocol):
    @property
    def level(self) -> str: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...


@dataclass(frozen=True)
class ContractStatus:
    status: str  # active | expiring | expired | none
    level: str = ""
    ends_on: date | None = None
    days_left: int | None = None
    # Ends within the contract-notice window (TAMAS_CONTRACT_NOTICE_MONTHS): "ends in N
    # months" on the pop, a task for the customer's owner.
    notice: bool = False
    months_left: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "level": self.level,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "days_left": self.days_left,
            "notice": self.notice,
            "months_left": self.months_left,
        }


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(first: date, last: date) -> int:
    """Whole months from ``first`` to ``last`` (0 when under a month)."""
    months = (last.year - first.year) * 12 + last.month - first.month
    if add_months(first, months) > last:
        months -= 1
    return max(months, 0)


def contract_status(
    contracts: Sequence[_Contract], today: date, expiring_days: int, notice_months: int = 0
) -> ContractStatus:
    """The contract covering ``today`` that runs longest decides; without one, the latest
    that ended makes the customer "expired"; a contract that has not started yet does not
    count."""
    current = [c for c in contracts if c.starts_on <= today <= c.ends_on]
    if current:
        best = max(current, key=lambda c: c.ends_on)
        left = (best.ends_on - today).days
        soon = best.ends_on <= today + timedelta(days=expiring_days)
        notice = notice_months > 0 and best.ends_on <= add_months(today, notice_months)
        return ContractStatus(
            "expiring" if soon else "active",
            best.level,
            best.ends_on,
            left,
            notice,
            months_between(today, best.ends_on) if notice else None,
        )
    ended = [c for c in contracts if c.ends_on < today]
    if ended:
        last = max(ended, key=lambda c: c.ends_on)
        return ContractStatus("expired", last.level, last.ends_on, (last.ends_on - today).days)
    return ContractStatus("none")
