"""The application: ``create_app`` and its lifespan (everything is built there, nothing at
import time)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from app import admin
from app.auth import endpoints as auth_endpoints
from app.config import Settings, get_settings
from app.customers import endpoints as customer_endpoints
from app.db import Database
from app.errors import install_error_handlers
from app.users import endpoints as user_endpoints

logger = logging.getLogger(__name__)

DESCRIPTION = """
Tamas (تماس) is a call-center CRM beside an Asterisk PBX.

Sign in with `POST /api/auth/token`, then send `Authorization: Bearer <token>`.
Roles: **agent** (customers and their own work), **supervisor** (everything agents can,
for all users), **admin** (users and settings).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        await database.open()
        app.state.database = database
        app.state.sessionmaker = database.sessionmaker
        logger.info("Tamas is up")
        try:
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
