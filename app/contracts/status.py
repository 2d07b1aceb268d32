"""A customer's support-contract status on a day (pure): active, expiring (soon), expired,
or none."""

from __future__ import annotations

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "level": self.level,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "days_left": self.days_left,
        }


def contract_status(
    contracts: Sequence[_Contract], today: date, expiring_days: int
) -> ContractStatus:
    """The contract covering ``today`` that runs longest decides; without one, the latest
    that ended makes the customer "expired"; a contract that has not started yet does not
    count."""
    current = [c for c in contracts if c.starts_on <= today <= c.ends_on]
    if current:
        best = max(current, key=lambda c: c.ends_on)
        left = (best.ends_on - today).days
        soon = best.ends_on <= today + timedelta(days=expiring_days)
        return ContractStatus("expiring" if soon else "active", best.level, best.ends_on, left)
    ended = [c for c in contracts if c.ends_on < today]
    if ended:
        last = max(ended, key=lambda c: c.ends_on)
        return ContractStatus("expired", last.level, last.ends_on, (last.ends_on - today).days)
    return ContractStatus("none")
