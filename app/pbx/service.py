"""What the PBX's dialplan asks Tamas while a call waits: who is calling (for the caller
name, VIP routing, the assigned agent, the support contract) and what a tracking code's
case is. Each answer is one indexed query; the dialplan's CURL() gives up after a short
timeout, so a slow CRM never holds a call (see asterisk-dev/)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.contracts.status import ContractStatus, contract_status
from app.db import HotRead
from app.models import Contract, Customer, CustomerPhone, UserDevice
from app.phones import try_parse_phone
from telephony.events import extension_of

MAX_HOLDERS = 5


@dataclass(frozen=True)
class _Span:
    level: str
    starts_on: date
    ends_on: date


@dataclass
class CallerInfo:
    found: bool
    number: str
    e164: str = ""
    customer_id: int | None = None
    name: str = ""
    company: str = ""
    priority: str = ""
    vip: bool = False
    contract: ContractStatus = field(default_factory=lambda: ContractStatus("none"))
    agent_extension: str = ""
    holders: int = 0

    def pairs(self) -> list[tuple[str, str]]:
        return [
            ("found", "1" if self.found else "0"),
            ("number", self.number),
            ("e164", self.e164),
            ("customer_id", str(self.customer_id or "")),
            ("name", self.name),
            ("company", self.company),
            ("priority", self.priority),
            ("vip", "1" if self.vip else "0"),
            ("contract", self.contract.status),
            ("contract_level", self.contract.level),
            ("contract_ends", self.contract.ends_on.isoformat() if self.contract.ends_on else ""),
            ("agent_extension", self.agent_extension),
            ("holders", str(self.holders)),
        ]


def _lookup_statement() -> Select[Any]:
    owner_device = (
        select(UserDevice.device)
        .where(UserDevice.user_id == Customer.owner_id)
        .order_by(UserDevice.id)
        .limit(1)
        .scalar_subquery()
    )
    spans = (
        select(
            func.coalesce(
                func.json_agg(
                    func.json_build_array(Contract.level, Contract.starts_on, Contract.ends_on)
                ),
                literal_column("'[]'::json"),
            )
        )
        .where(Contract.customer_id == Customer.id)
        .scalar_subquery()
    )
    return (
        select(
            Customer.id,
            Customer.name,
            Customer.company,
            Customer.priority,
            owner_device.label("owner_device"),
            spans.label("contracts"),
            func.count().over().label("holders"),
        )
        .where(
            Customer.id.in_(
                select(CustomerPhone.customer_id).where(CustomerPhone.e164 == bindparam("e164"))
            )
        )
        # A VIP first, then the oldest customer holding the number.
        .order_by(func.coalesce(Customer.priority == "VIP", False).desc(), Customer.id)
        .limit(MAX_HOLDERS)
    )


# Every call the dialplan asks about sends this one statement (see HotRead).
_LOOKUP = HotRead(_lookup_statement())


class PbxLookupService:
    def __init__(self, source: AsyncSession | AsyncEngine, settings: Settings) -> None:
        # A session, or the engine for an edge that opens none (see HotRead).
        self.source = source
        self.settings = settings

    async def caller(self, number: str, today: date) -> CallerInfo:
        parsed = try_parse_phone(
            number, self.settings.default_region, default_area_code=self.settings.default_area_code
        )
        if parsed is None:
            return CallerInfo(found=False, number=number)
        rows = await _LOOKUP.rows(self.source, {"e164": parsed.e164})
        if not rows:
            return CallerInfo(found=False, number=number, e164=parsed.e164)
        best = rows[0]
        contracts = best["contracts"]
        if isinstance(contracts, str):
            contracts = json.loads(contracts)
        spans = [_Span(level, _day(s), _day(e)) for level, s, e in contracts]
        device = best["owner_device"]
        return CallerInfo(
            found=True,
            number=number,
            e164=parsed.e164,
            customer_id=best["id"],
            name=best["name"],
            company=best["company"],
            priority=(best["priority"] or "").lower(),
            vip=best["priority"] == "VIP",
            contract=contract_status(spans, today, self.settings.contract_expiring_days),
            agent_extension=extension_of(device) if device else "",
            holders=len(rows),
        )


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
