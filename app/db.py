"""Engine, sessions and the unit of work. The edge that receives a request or an event owns
the transaction: services flush, never commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Select, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from app.config import Settings
from app.embedded_db import EmbeddedPostgres, start_embedded

SessionMaker = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Accept the URL forms admins paste (``postgres://``, ``postgresql://``, with or without a
    driver) and return one for asyncpg."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(
            f"TAMAS_DATABASE_URL must point at PostgreSQL, not {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        echo=echo,
    )
    # A restarted database leaves dead pooled connections behind. SQLAlchemy's pre-ping
    # finds them with three round trips on every checkout (a fifth of a lookup by number);
    # asyncpg already knows, without asking the server, when the server closed a connection
    # (a stopped or restarted PostgreSQL ends its backends, and the socket's end reaches
    # the event loop): a connection it reports closed is replaced before use. A connection
    # that dies silently (a network cut with no FIN) fails its statement once and is
    # invalidated, as it would after a pre-ping that passed a moment before the cut.
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        # The pool discards this connection and checks out (or opens) another.
        raise sa_exc.DisconnectionError("the database closed this pooled connection")


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def commit(session: AsyncSession) -> None:
    """Commit, when there is something to: a session that began no transaction and holds
    no pending change (a request that only read through :class:`HotRead`, or nothing) has
    none, and committing it would still cost a trip through SQLAlchemy's greenlet."""
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await session.commit()


@asynccontextmanager
async def unit_of_work(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            await session.rollback()
            raise


# What PostgreSQL says when it cannot serve anyone right now (class 08 connection
# exceptions; 57P01-57P03 shutting down, crashed, starting up; 53300 too many connections).
_UNREACHABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (down, restarting, the network),
    as opposed to a statement that failed on its own data. The first kind goes away by
    waiting and trying the same work again; the second comes back every time.

    Looks through the chain SQLAlchemy and asyncpg wrap errors in."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (OSError, TimeoutError, *_UNREACHABLE)):
            return True  # ConnectionRefusedError, a reset socket, a connect that timed out
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa_exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(e, (asyncpg.InterfaceError, sa_exc.InterfaceError)) and (
            "connection is closed" in str(e) or "connection was closed" in str(e)
        ):
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return False


class Database:
    """The database the service runs on: the configured server, or the embedded one.

    ``open()`` starts what is needed (embedded server, engine, migrations); ``close()`` undoes
    it in reverse. Built in the lifespan (or by a CLI command), never at import time.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None
        self.engine: AsyncEngine | None = None
        self.sessionmaker: SessionMaker | None = None

    @property
    def url(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        assert self.embedded is not None, "open() first"
        return self.embedded.url()

    @property
    def dsn(self) -> str:
        """The URL for a plain asyncpg connection (LISTEN, advisory locks)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def open(self, *, migrate: bool | None = None) -> Database:
        try:
            if self.settings.database_url is None:
                self.embedded = await asyncio.to_thread(start_embedded, self.settings.pgdata_dir)
            self.engine = create_engine(
                self.url, pool_size=self.settings.db_pool_size, echo=self.settings.db_echo
            )
            self.sessionmaker = create_sessionmaker(self.engine)
            if self.settings.run_migrations_on_start if migrate is None else migrate:
                from app.migrate import upgrade

                await upgrade(self.engine)
        except BaseException:
            # Half-opened (say, a failed migration): release the engine and the embedded
            # server now, since nobody will call close() on a database that did not open.
            await self.close()
            raise
        return self

    async def close(self) -> None:
        self.sessionmaker = None
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class HotRead:
    """A read-only ``SELECT`` asked on a hot path (every call's caller lookup), sent in one
    round trip.

    When the session has begun no transaction (a request that only reads this), the
    statement goes to asyncpg on a pooled connection of its own, outside any transaction,
    as SQL compiled once (asyncpg prepares it once per connection): no BEGIN and COMMIT
    around it, and none of SQLAlchemy's execution layer, which costs more than such a query
    itself. A single statement sees one snapshot either way. Inside a transaction it is
    executed in it as usual (and sees that transaction's writes). Rows come back as dicts
    in both cases, with SQLAlchemy's bind and result processing applied."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def rows(
        self, source: AsyncSession | AsyncEngine, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows, asked on ``source``: a session (in its transaction when it has begun
        one), or the engine itself for an edge that opens no session at all (a session
        per request costs more CPU than the query: the dialplan's lookup)."""
        if isinstance(source, AsyncEngine):
            bind = source
        else:
            session_bind = source.bind
            if not isinstance(session_bind, AsyncEngine) or source.in_transaction():
                return [dict(r._mapping) for r in await source.execute(self.statement, params)]
            bind = session_bind
        compiled = self._compiled.get(bind.dialect.name)
        if compiled is None:
            compiled = self._compiled[bind.dialect.name] = _Compiled(self.statement, bind)
        raw = await bind.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            records = await driver.fetch(compiled.sql, *compiled.arguments(params))
        finally:
            # Back to the pool; its reset runs in SQLAlchemy's greenlet, as every pool
            # operation of the async engine does.
            await greenlet_spawn(raw.close)
        return [compiled.row(record) for record in records]


class _Compiled:
    def __init__(self, statement: Select[Any], bind: AsyncEngine) -> None:
        dialect = bind.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._names = list(compiled.positiontup or ())
        self._defaults = dict(compiled.params)
        self._binds = {n: p for n, p in compiled._bind_processors.items() if callable(p)}
        self._results = [
            (c.keyname, c.type.result_processor(dialect, None)) for c in compiled._result_columns
        ]

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = []
        for name in self._names:
            value = params[name] if name in params else self._defaults[name]
            process = self._binds.get(name)
            values.append(process(value) if process is not None else value)
        return values

    def row(self, record: Any) -> dict[str, Any]:
        return {
            key: process(value) if process is not None else value
            for (key, process), value in zip(self._results, record, strict=True)
        }
