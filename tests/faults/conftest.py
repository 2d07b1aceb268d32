"""Fixtures of the fault tests: the scratch database emptied after each test, a simulated
PBX, and a PostgreSQL server of the module's own to stop and start."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from app.db import Database, unit_of_work
from app.models import Call, PopEvent, Role, User
from telephony.simulator import AmiSimulator
from tests.faults.support import FIGURES, SECRET, USER, OwnPostgres
from tests.fixtures.factories import make_user


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_line(json.dumps(FIGURES, ensure_ascii=False))


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        await session.execute(delete(PopEvent))
        await session.execute(delete(Call))


@pytest.fixture
async def agents(db: Database, sim: AmiSimulator) -> AsyncIterator[None]:
    """Users on the simulated agents' phones, so that calls cause pops."""
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        for agent in sim.agents:
            await make_user(session, Role.agent, devices=[f"PJSIP/{agent.extension}"])
    yield
    async with unit_of_work(db.sessionmaker) as session:
        await session.execute(delete(PopEvent))
        await session.execute(delete(User))


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET, seed=9) as simulator:
        yield simulator


@pytest.fixture(scope="module")
async def own_pg() -> AsyncIterator[OwnPostgres]:
    # Not under pytest's temporary root: every pytest run started meanwhile makes that
    # private to root again, and the server may run as a user of its own (see OwnPostgres).
    home = Path(tempfile.mkdtemp(prefix="tamas-faults-pg-"))
    os.chmod(home, 0o755)
    server = await asyncio.to_thread(OwnPostgres.create, home / "pgdata")
    yield server
    await asyncio.to_thread(server.close)
    shutil.rmtree(home, ignore_errors=True)
