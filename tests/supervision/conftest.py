"""Fixtures of the supervision tests: the scratch database emptied after each test and a
simulated PBX."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from app.db import Database, unit_of_work
from app.models import (
    AgentActivity,
    AuditEvent,
    AuthToken,
    Call,
    Customer,
    Origination,
    PopEvent,
    QueueMember,
    SpySession,
    User,
)
from telephony.simulator import AmiSimulator
from tests.screenpop.support import SECRET, USER


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        models = (
            AgentActivity,
            SpySession,
            AuditEvent,
            PopEvent,
            Origination,
            QueueMember,
            Call,
            Customer,
            AuthToken,
            User,
        )
        for model in models:
            await session.execute(delete(model))


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET) as simulator:
        yield simulator
