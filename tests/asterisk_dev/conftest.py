"""Fixtures of the asterisk-dev/ tests: the dialplan read once, Tamas's settings with the
PBX that calls it, the people the lookups find, the test app on a real port, and a copy
of etc/asterisk to break."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Contract, Role
from app.tracking.service import TrackingService
from tests.asterisk_dev.support import (
    CONF,
    ETC,
    TOKEN,
    Dialplan,
    People,
    read_dialplan,
)
from tests.fixtures.factories import make_customer, make_user
from tests.fixtures.pbx import calling_pbx
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


@pytest.fixture(scope="module")
def plan() -> Dialplan:
    return read_dialplan(CONF.read_text())


@pytest.fixture
async def pbx_settings(app: FastAPI, settings: Settings) -> AsyncIterator[Settings]:
    with calling_pbx(app, settings, "pbx1", TOKEN) as conf:
        yield conf


@pytest.fixture
async def people(app: FastAPI, session: AsyncSession, pbx_settings: Settings) -> People:
    """A VIP whose contract ended, assigned to the agent at 1001; a case owned by 1002."""
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002", "SIP/soft1002"])
    vip = await make_customer(
        session, pbx_settings, "مهندس «پارسا», شرکت آلفا", ("09121234567",), priority="VIP"
    )
    vip.owner_id = sara.id
    today = pbx_settings.today()
    session.add(
        Contract(
            customer_id=vip.id,
            level="gold",
            starts_on=today - timedelta(days=400),
            ends_on=today - timedelta(days=35),
        )
    )
    cases = TrackingService(session, pbx_settings)
    case = await cases.issue(by=reza, customer_id=vip.id)
    closed = await cases.issue(by=reza, customer_id=vip.id)
    closed.status = "closed"
    await session.flush()
    _, events = replay("01_direct_answered")
    await InlineRecorder(app.state.sessionmaker, settings=pbx_settings)(events)
    linkedid = (await session.execute(select(Call.linkedid))).scalars().one()
    return People(vip.id, case.code, closed.code, linkedid)


@pytest.fixture
async def live(app: FastAPI, session: AsyncSession, pbx_settings: Settings) -> AsyncIterator[str]:
    """The test app on a real port (its requests join the test's transaction)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await task


@pytest.fixture
def etc_copy(tmp_path: Path) -> Path:
    """A copy of etc/asterisk to break."""
    return Path(shutil.copytree(ETC, tmp_path / "asterisk"))
