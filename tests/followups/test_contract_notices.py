"""Contract notices: contracts ending within the notice window (TAMAS_CONTRACT_NOTICE_MONTHS,
default 6) are listed, each made a task for the customer's owner once, and the pop says
how many months are left."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.contracts.status import add_months, months_between
from app.followups.service import contract_notices
from app.models import Contract, PopEvent, Role, Task
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


def test_months_between() -> None:
    assert months_between(date(2026, 12, 7), date(2027, 2, 7)) == 2
    assert months_between(date(2026, 12, 7), date(2027, 2, 6)) == 1
    assert months_between(date(2026, 12, 31), date(2027, 2, 28)) == 2  # month ends meet
    assert months_between(date(2026, 12, 7), date(2026, 12, 20)) == 0


async def test_a_notice_task_is_made_once_for_the_owner_and_shown_on_the_pop(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    h = {"Authorization": f"Bearer {await make_token(session, settings, sara)}"}
    today = settings.today()
    soon = await make_customer(session, settings, "شرکت آلفا", ("09121234567",))
    later = await make_customer(session, settings, "شرکت بتا", ("09121234568",))
    nobody = await make_customer(session, settings, "شرکت گاما", ("09121234569",))
    soon.owner_id = later.owner_id = sara.id
    ends = add_months(today, 2) + timedelta(days=3)
    for customer, last in ((soon, ends), (later, add_months(today, 8)), (nobody, ends)):
        session.add(Contract(customer_id=customer.id, level="gold",
                             starts_on=today - timedelta(days=300), ends_on=last))  # fmt: skip
    await session.flush()

    assert await contract_notices(session, settings, today) == 1  # not the one without owner
    assert await contract_notices(session, settings, today) == 0  # once
    (task,) = (await session.execute(select(Task))).scalars().all()
    assert (task.kind, task.assignee_user_id, task.customer_id) == ("contract", sara.id, soon.id)
    listed = (await client.get("/api/tasks", headers=h)).json()
    assert [(t["kind"], t["customer_name"]) for t in listed] == [("contract", "شرکت آلفا")]
    summary = (await client.get("/api/tasks/summary", headers=h)).json()
    assert summary["contracts_ending"] == 1
    # Done, it stays done: no second notice for that contract.
    await client.post(f"/api/tasks/{task.id}/done", json={"note": "renewed"}, headers=h)
    assert await contract_notices(session, settings, today) == 0

    expiring = (await client.get("/api/contracts/expiring", headers=h)).json()
    assert [(c["customer_name"], c["months_left"], c["notice_task_id"]) for c in expiring] == [
        ("شرکت آلفا", 2, task.id), ("شرکت گاما", 2, None),
    ]  # fmt: skip
    wider = settings.model_copy(update={"contract_notice_months": 9})
    app.state.settings = wider
    try:
        expiring = (await client.get("/api/contracts/expiring", headers=h)).json()
        assert len(expiring) == 3
        assert await contract_notices(session, wider, today) == 1  # the 8-month one now
    finally:
        app.state.settings = settings

    # The customer calls: "contract ends in 2 months" on the pop.
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    _, call = replay("01_direct_answered")
    await recorder(call)
    pop = (await session.execute(select(PopEvent).where(PopEvent.kind == "pop"))).scalars().first()
    assert pop is not None
    (card,) = pop.payload["customers"]
    assert card["name"] == "شرکت آلفا"
    assert (card["contract"]["notice"], card["contract"]["months_left"]) == (True, 2)
    status = (await client.get(f"/api/customers/{later.id}/contract-status", headers=h)).json()
    assert (status["status"], status["notice"]) == ("active", False)
