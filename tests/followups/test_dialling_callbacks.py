"""Calling back over a real AMI socket (the simulated PBX): the panel's "call back" places a
click-to-call with the callback's id; the PBX's events of that call come back as its tries
(busy, then reached), each linked to the call, and the retry policy reschedules it between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import (
    AuthToken,
    Call,
    Callback,
    CallbackAttempt,
    Customer,
    Origination,
    PopEvent,
    TrackingCode,
    User,
)
from telephony.simulator import AmiSimulator
from tests.screenpop.support import SECRET, USER, eventually, following, instance_settings, team


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        for model in (CallbackAttempt, Callback, PopEvent, Origination, TrackingCode, Call,
                      Customer, AuthToken, User):  # fmt: skip
            await session.execute(delete(model))


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET) as simulator:
        yield simulator


async def test_calling_back_records_each_try_and_links_the_calls(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    assert db.sessionmaker is not None
    tokens = await team(db, settings)
    outcomes = iter(["customer_busy", "answered"])
    sim.originate_outcome = lambda _request: next(outcomes)
    async with following(instance_settings(settings, db, sim)) as tamas:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{tamas.port}",
            headers={"Authorization": f"Bearer {tokens['1001']}"},
        ) as client:
            r = await client.post(
                "/api/callbacks", json={"number": "09121234567", "retry_minutes": 20}
            )
            callback_id = r.json()["id"]

            async def tries(n: int) -> bool:
                found = (await client.get(f"/api/callbacks/{callback_id}/attempts")).json()
                return len(found) == n

            before = datetime.now(UTC)
            body = {"number": "09121234567", "callback_id": callback_id}
            r = await client.post("/api/originations", json=body)
            assert r.status_code == 202, r.text
            await eventually(lambda: tries(1))
            (got,) = [c for c in (await client.get("/api/callbacks?status=claimed&mine=true")
                      ).json() if c["id"] == callback_id]  # fmt: skip
            assert (got["tries"], got["last_outcome"]) == (1, "busy")
            assert (datetime.fromisoformat(got["due_at"]) - before).total_seconds() >= 20 * 60

            r = await client.post("/api/originations", json=body)
            assert r.status_code == 202, r.text
            await eventually(lambda: tries(2))
            attempts = (await client.get(f"/api/callbacks/{callback_id}/attempts")).json()
            assert [a["outcome"] for a in attempts] == ["busy", "reached"]
        async with db.sessionmaker() as session:
            callback = await session.get(Callback, callback_id)
            assert callback is not None
            assert (callback.status, callback.done_reason, callback.tries) == (
                "done", "called_back", 2,
            )  # fmt: skip
            calls = (await session.execute(
                select(Call.id, Call.outcome).order_by(Call.id)
            )).all()  # fmt: skip
        # Each try is the call it was: the busy one and the answered one.
        assert [a["call_id"] for a in attempts] == [i for i, _ in calls]
        assert [o for _, o in calls] == ["busy", "answered"]
        assert callback.done_call_id == calls[1][0]
        # A click-to-call for a callback of another number is refused.
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{tamas.port}",
            headers={"Authorization": f"Bearer {tokens['1001']}"},
        ) as client:
            r = await client.post("/api/callbacks", json={"number": "09351112233"})
            r = await client.post(
                "/api/originations", json={"number": "09121234567", "callback_id": r.json()["id"]}
            )
            assert r.status_code == 422
