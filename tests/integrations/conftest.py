"""Fixtures of the integrations' tests: the scratch database emptied after each test, and
settings whose retries come quickly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import (
    AuthToken,
    Call,
    Callback,
    Customer,
    IntegrationEvent,
    PopEvent,
    Recording,
    TrackingCode,
    User,
    WebhookEndpoint,
)
from telephony.simulator import AmiSimulator
from tests.screenpop.support import SECRET, USER


@pytest.fixture
async def db(scratch_db: Database) -> AsyncIterator[Database]:
    yield scratch_db
    assert scratch_db.sessionmaker is not None
    async with unit_of_work(scratch_db.sessionmaker) as session:
        for model in (
            WebhookEndpoint,
            IntegrationEvent,
            PopEvent,
            Recording,
            TrackingCode,
            Callback,
            Call,
            Customer,
            AuthToken,
            User,
        ):
            await session.execute(delete(model))


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Retries a few milliseconds apart, a short timeout, few tries."""
    return settings.model_copy(
        update={
            "webhook_timeout_seconds": 0.5,
            "webhook_backoff_first_seconds": 0.02,
            "webhook_backoff_most_seconds": 0.1,
            "webhook_max_attempts": 4,
        }
    )


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET) as simulator:
        yield simulator
