"""Configuration, migrations and the first-start admin."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import async_url
from app.migrate import pending_model_changes
from app.security import verify_password
from app.users.service import ensure_first_admin


def test_default_secret_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="TAMAS_SECRET_KEY"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="TAMAS_SECRET_KEY"):
        Settings(_env_file=None, environment="production", secret_key="short")  # type: ignore[call-arg,arg-type]
    ok = Settings(_env_file=None, environment="production", secret_key="x" * 40)  # type: ignore[call-arg,arg-type]
    assert ok.environment == "production"
    assert Settings(_env_file=None).environment == "development"  # type: ignore[call-arg]


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMAS_DEFAULT_REGION", "de")
    monkeypatch.setenv("TAMAS_DATABASE_URL", "postgres://u:p@db.example:5432/tamas")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.default_region == "DE"
    assert "p@" not in repr(settings)  # the URL holds a password: it is a secret
    monkeypatch.setenv("TAMAS_DEFAULT_REGION", "XX")
    with pytest.raises(ValidationError, match="unknown phone region"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_database_urls_are_made_async() -> None:
    assert async_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("postgresql+psycopg://u@h:5433/db") == "postgresql+asyncpg://u@h:5433/db"
    with pytest.raises(ValueError, match="PostgreSQL"):
        async_url("mysql://u@h/db")


async def test_models_and_migrations_agree(app: FastAPI) -> None:
    # The app's lifespan ran the migrations; autogenerate must find nothing left to write.
    assert await pending_model_changes(app.state.database.engine) == []


async def test_first_admin_is_created_once(session: AsyncSession, tmp_path: Path) -> None:
    from sqlalchemy import delete

    from app.main import write_private_file
    from app.models import User

    await session.execute(delete(User))
    created = await ensure_first_admin(session)
    assert created is not None
    admin, password = created
    assert admin.role == "admin"
    assert verify_password(admin.password_hash, password)
    assert await ensure_first_admin(session) is None

    password_file = tmp_path / "var" / "initial-admin-password"
    write_private_file(password_file, password)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


async def test_a_database_that_fails_to_open_is_released() -> None:
    from app.db import Database

    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://tamas@127.0.0.1:9/tamas",  # type: ignore[arg-type]
    )
    db = Database(settings)
    with pytest.raises(OSError):
        await db.open()
    assert db.engine is None and db.sessionmaker is None


def test_no_route_depends_on_a_plain_function(settings: Settings) -> None:
    """FastAPI runs a plain ``def`` dependency (or a class) in a worker thread: a thread hop
    on every request that uses it. Every dependency of every route is a coroutine (or an
    object whose ``__call__`` is one, as FastAPI's security schemes)."""
    import inspect

    from fastapi.dependencies.models import Dependant
    from fastapi.routing import APIRoute

    from app.main import create_app

    def plain(dependant: Dependant, seen: list[str]) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            target = call if inspect.isroutine(call) else type(call).__call__
            if inspect.isclass(call) or not (
                inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)
            ):
                seen.append(getattr(call, "__qualname__", repr(call)))
            plain(sub, seen)

    def api_routes(routes: list[Any]) -> list[APIRoute]:
        # FastAPI keeps an included router's routes behind the router (``original_router``).
        out: list[APIRoute] = []
        for route in routes:
            if isinstance(route, APIRoute):
                out.append(route)
            elif hasattr(route, "original_router"):
                out.extend(api_routes(route.original_router.routes))
        return out

    routes = api_routes(create_app(settings).routes)
    assert len(routes) > 50
    found: dict[str, list[str]] = {}
    for route in routes:
        seen: list[str] = []
        plain(route.dependant, seen)
        if seen:
            found[route.path] = sorted(set(seen))
    assert found == {}
