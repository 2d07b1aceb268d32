from __future__ import annotations

from datetime import date, datetime
from typing import Any

import jdatetime
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.schemas import Input
from app.textnorm import to_latin_digits


def parse_day(value: Any) -> Any:
    """A date as ISO (2026-11-23) or Jalali (1405-09-02 or 1405/09/02, Persian digits
    welcome): a year before 1700 is read as Jalali."""
    if not isinstance(value, str):
        return value
    text = to_latin_digits(value.strip()).replace("/", "-")
    parts = text.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and int(parts[0]) < 1700:
        try:
            return jdatetime.date(int(parts[0]), int(parts[1]), int(parts[2])).togregorian()
        except ValueError as exc:
            raise ValueError(f"not a Jalali date: {value}") from exc
    return text


class ContractIn(Input):
    level: str = Field(min_length=1, max_length=40, examples=["gold"])
    starts_on: date = Field(description="ISO or Jalali (1405-09-02)")
    ends_on: date = Field(description="the last day covered, ISO or Jalali")
    notes: str = Field(default="", max_length=2000)

    _days = field_validator("starts_on", "ends_on", mode="before")(parse_day)

    @model_validator(mode="after")
    def _order(self) -> ContractIn:
        if self.ends_on < self.starts_on:
            raise ValueError("a contract cannot end before it starts")
        return self


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    level: str
    starts_on: date
    ends_on: date
    notes: str
    created_at: datetime


class ContractStatusRead(BaseModel):
    status: str = Field(
        description="active, expiring (within TAMAS_CONTRACT_EXPIRING_DAYS), expired or none"
    )
    level: str
    ends_on: date | None
    days_left: int | None
    notice: bool = Field(
        default=False, description="ends within TAMAS_CONTRACT_NOTICE_MONTHS (default 6)"
    )
    months_left: int | None = None


class ExpiringContract(ContractRead):
    customer_name: str
    days_left: int
    months_left: int
    owner_user_id: int | None
    notice_task_id: int | None = Field(description="the task made for the owner, if any")
