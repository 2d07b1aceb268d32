"""Pooled connections the database closed are replaced at checkout, without the round trips
of a pre-ping (app.db.create_engine)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import event, text

from app.db import create_engine
from tests.screenpop.support import eventually


async def test_a_connection_the_server_closed_is_replaced_at_checkout(app: FastAPI) -> None:
    url = app.state.database.engine.url.render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    sent: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(" ".join(a[2].split()))
    )
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
        async with app.state.database.engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # The server's end of the socket reaches asyncpg through the event loop.
        async def closed() -> bool:
            return bool(driver.is_closed())

        await eventually(closed, within=10)
        sent.clear()
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        # No ping on the way: the only statement sent is ours.
        assert sent == ["SELECT pg_backend_pid()"]
    finally:
        await engine.dispose()
