"""The application: ``create_app`` and its lifespan (everything is built there, nothing at
import time)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import text

from app import admin
from app.auth import endpoints as auth_endpoints
from app.config import Settings, get_settings
from app.customers import endpoints as customer_endpoints
from app.db import Database, unit_of_work
from app.errors import install_error_handlers
from app.users import endpoints as user_endpoints
from app.users.service import ensure_first_admin

logger = logging.getLogger(__name__)

DESCRIPTION = """
Tamas (تماس) is a call-center CRM beside an Asterisk PBX.

Sign in with `POST /api/auth/token`, then send `Authorization: Bearer <token>`.
Roles: **agent** (customers and their own work), **supervisor** (everything agents can,
for all users), **admin** (users and settings).
"""


def write_private_file(path: Path, content: str) -> None:
    """Write ``content`` to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)


async def _first_admin(database: Database, settings: Settings) -> None:
    assert database.sessionmaker is not None
    password_file = settings.data_dir / "initial-admin-password"
    async with unit_of_work(database.sessionmaker) as session:
        created = await ensure_first_admin(session)
    if created is not None:
        await asyncio.to_thread(write_private_file, password_file, created[1] + "\n")
        logger.warning(
            "no users existed: created user 'admin'; its password is in %s "
            "(change it with `tamas user passwd admin`)",
            password_file,
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        await database.open()
        try:
            app.state.database = database
            app.state.sessionmaker = database.sessionmaker
            if settings.environment == "development":
                await _first_admin(database, settings)
            logger.info("Tamas is up")
            yield
        finally:
            await database.close()

    app = FastAPI(
        title="Tamas",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(auth_endpoints.router)
    app.include_router(user_endpoints.router)
    app.include_router(customer_endpoints.router)
    app.include_router(admin.router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness and database reachability (no sign-in needed; shows no data)."""
        database: Database = app.state.database
        assert database.engine is not None
        try:
            async with database.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            db_state = "ok"
        except Exception as exc:  # reported, not raised: this is the health check
            db_state = f"unavailable: {type(exc).__name__}"
        return {"status": "ok" if db_state == "ok" else "degraded", "database": db_state}

    return app
