"""One embedded PostgreSQL per test session, the app with its lifespan entered, and a
transaction rolled back after every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import Database
from app.main import create_app

# Whole files of long tests (real minutes of outages, the API fuzzed): marked ``slow``, which
# `scripts/test --quick` leaves out.
SLOW = ("tests/faults/", "tests/test_api_fuzz.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("tamas")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        data_dir=data_dir,
        default_region="IR",
        # Deliveries in the test's own process (tests/integrations/test_process.py starts
        # the child process that `tamas serve` uses by default).
        webhook_worker="inline",
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test. Requests made
    through ``client`` join the same transaction (their commits become savepoints)."""
    database = app.state.database
    async with database.engine.connect() as conn:
        outer = await conn.begin()
        maker = async_sessionmaker(
            bind=conn,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        app.state.sessionmaker = maker
        try:
            async with maker() as s:
                yield s
        finally:
            app.state.sessionmaker = database.sessionmaker
            await outer.rollback()


@pytest.fixture(scope="module")
async def scratch_url(app: FastAPI, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database of its own on the test server (one per test module), for code that
    commits (the command, the AMI listener), which the rolled-back ``session`` cannot
    show. Its URL; dropped at the end."""
    name = "tamas_scratch_" + request.module.__name__.rsplit(".", 1)[-1].lower()
    engine = app.state.database.engine

    async def admin(sql: str) -> None:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))

    await admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin(f"CREATE DATABASE {name}")
    yield engine.url.set(database=name).render_as_string(hide_password=False)
    await admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def cli_env(scratch_url: str) -> dict[str, str]:
    """Environment for running the ``tamas`` command against the scratch database."""
    return {"TAMAS_DATABASE_URL": scratch_url, "TAMAS_LOG_LEVEL": "warning"}


@pytest.fixture(scope="module")
async def scratch_db(scratch_url: str, settings: Settings) -> AsyncIterator[Database]:
    """The scratch database opened (and migrated) as the service opens its own."""
    db = Database(settings.model_copy(update={"database_url": SecretStr(scratch_url)}))
    await db.open()
    yield db
    await db.close()


@pytest.fixture
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tamas.test") as c:
        yield c
