from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Contract, Customer, Task


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_customers(self, customer_ids: Sequence[int]) -> dict[int, list[Contract]]:
        out: dict[int, list[Contract]] = {c: [] for c in customer_ids}
        if not customer_ids:
            return out
        stmt = (
            select(Contract)
            .where(Contract.customer_id.in_(sorted(set(customer_ids))))
            .order_by(Contract.customer_id, Contract.starts_on)
        )
        for contract in (await self.session.execute(stmt)).scalars():
            out[contract.customer_id].append(contract)
        return out

    async def ending_between(
        self, first: date, last: date
    ) -> list[tuple[Contract, str, int | None, int | None]]:
        """(contract, customer name, customer's owner, notice task id) ending in the days."""
        stmt = (
            select(Contract, Customer.name, Customer.owner_id, Task.id)
            .join(Customer, Customer.id == Contract.customer_id)
            .outerjoin(Task, Task.contract_id == Contract.id)
            .where(Contract.ends_on >= first, Contract.ends_on <= last)
            .order_by(Contract.ends_on, Contract.id)
        )
        return [(c, n, o, t) for c, n, o, t in (await self.session.execute(stmt)).all()]
