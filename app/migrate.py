"""Run Alembic migrations on an async engine, and check that models and migrations agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from app.models import Base

MIGRATIONS_DIR = Path(migrations.__file__).parent
# Any fixed number: several Tamas processes starting together migrate one at a time.
_ADVISORY_LOCK_ID = 0x7A6A5


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    command.upgrade(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def pending_model_changes(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would write now: empty when the models and migrations agree."""
    async with engine.connect() as conn:
        return await conn.run_sync(_diff)


def _revision(connection: Connection, message: str) -> None:
    command.revision(alembic_config(connection), message=message, autogenerate=True)


async def autogenerate(engine: AsyncEngine, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    async with engine.begin() as conn:
        await conn.run_sync(_revision, message)
