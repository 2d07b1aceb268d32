"""Fixtures of the screen-pop tests: the scratch database emptied after each test and a
simulated PBX."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy import delete

from app.db import Database, unit_of_work
from app.models import (
    AuthToken,
    Call,
    Customer,
    Origination,
    PopEvent,
    QueueMember,
    RecordingAudit,
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
            PopEvent,
            Origination,
            QueueMember,
            RecordingAudit,
            Call,
            Customer,
            AuthToken,
            User,
        )
        for model in models:
            await session.execute(delete(model))


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, once per module (modules with their own fixture keep theirs)."""
    from tests.screenpop.test_panel import ARGS, installed_chromium

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=installed_chromium(), args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET) as simulator:
        yield simulator
