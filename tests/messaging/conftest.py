"""The messaging tests: a fake provider on a local socket, and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from app.config import Settings
from app.db import Database
from tests.fixtures.sms_provider import API_KEY, FakeSms


@pytest.fixture
async def fake() -> AsyncIterator[FakeSms]:
    server = await FakeSms().start()
    yield server
    await server.stop()


def sms_settings(settings: Settings, fake: FakeSms, **extra: object) -> Settings:
    """Kavenegar at the fake, no quiet hours, quick retries."""
    values: dict[str, object] = {
        "sms_provider": "kavenegar",
        "sms_kavenegar_api_key": SecretStr(API_KEY),
        "sms_kavenegar_base_url": fake.base_url,
        "sms_kavenegar_sender": "10004346",
        "sms_quiet_hours": "",
        "sms_backoff_first_seconds": 0.01,
        "sms_backoff_most_seconds": 0.01,
        "sms_timeout_seconds": 2.0,
        "sms_rate_per_number": 0,
    }
    values.update(extra)
    return settings.model_copy(update=values)


@pytest.fixture
async def outbox_db(scratch_db: Database) -> AsyncIterator[Database]:
    """The module's scratch database (workers commit), its outbox emptied for each test."""
    assert scratch_db.engine is not None
    async with scratch_db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE sms_outbox, sms_opt_outs, survey_answers"))
        await conn.execute(text("UPDATE sms_triggers SET enabled = false"))
    yield scratch_db
