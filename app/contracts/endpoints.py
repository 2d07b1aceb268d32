from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.contracts.repository import ContractRepository
from app.contracts.schemas import ContractIn, ContractRead, ContractStatusRead, ExpiringContract
from app.contracts.status import add_months, contract_status, months_between
from app.customers.service import CustomerService
from app.deps import AgentUser, SessionDep, SettingsDep, SupervisorUser
from app.errors import NotFound
from app.models import Contract
from app.schemas import DbId

router = APIRouter(tags=["support contracts"])


@router.get("/api/customers/{customer_id}/contracts", response_model=list[ContractRead])
async def customer_contracts(
    customer_id: DbId, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> list[Contract]:
    """A customer's support contracts, oldest first."""
    await CustomerService(session, settings).get(customer_id)
    return (await ContractRepository(session).of_customers([customer_id]))[customer_id]


@router.get("/api/customers/{customer_id}/contract-status", response_model=ContractStatusRead)
async def customer_contract_status(
    customer_id: DbId, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> ContractStatusRead:
    """Active, expiring soon, expired or none, as the pop shows it."""
    await CustomerService(session, settings).get(customer_id)
    contracts = (await ContractRepository(session).of_customers([customer_id]))[customer_id]
    found = contract_status(
        contracts,
        settings.today(),
        settings.contract_expiring_days,
        settings.contract_notice_months,
    )
    return ContractStatusRead(**found.as_dict())


@router.post(
    "/api/customers/{customer_id}/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
)
async def add_contract(
    customer_id: DbId,
    body: ContractIn,
    session: SessionDep,
    settings: SettingsDep,
    _: SupervisorUser,
) -> Contract:
    """Record a support contract (dates ISO or Jalali)."""
    await CustomerService(session, settings).get(customer_id)
    contract = Contract(customer_id=customer_id, **body.model_dump())
    session.add(contract)
    await session.flush()
    return contract


@router.put("/api/contracts/{contract_id}", response_model=ContractRead)
async def update_contract(
    contract_id: DbId, body: ContractIn, session: SessionDep, _: SupervisorUser
) -> Contract:
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("no such contract")
    for key, value in body.model_dump().items():
        setattr(contract, key, value)
    await session.flush()
    return contract


@router.delete("/api/contracts/{contract_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contract(contract_id: DbId, session: SessionDep, _: SupervisorUser) -> None:
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("no such contract")
    await session.delete(contract)


@router.get("/api/contracts/expiring", response_model=list[ExpiringContract])
async def expiring_contracts(
    session: SessionDep,
    settings: SettingsDep,
    _: AgentUser,
    months: Annotated[
        int | None, Query(ge=1, le=60, description="how far ahead (default: the setting)")
    ] = None,
) -> list[ExpiringContract]:
    """Contracts ending from today to N months ahead (default TAMAS_CONTRACT_NOTICE_MONTHS,
    6), soonest first, for follow-up calls; each with its notice task (made for the
    customer's owner) when there is one."""
    months = months or settings.contract_notice_months
    first = settings.today()
    rows = await ContractRepository(session).ending_between(first, add_months(first, months))
    return [
        ExpiringContract(
            **ContractRead.model_validate(c).model_dump(),
            customer_name=name,
            days_left=(c.ends_on - first).days,
            months_left=months_between(first, c.ends_on),
            owner_user_id=owner,
            notice_task_id=task,
        )
        for c, name, owner, task in rows
    ]
