"""The round trips of the hot reads: pooled connections the database closed are replaced at
checkout without a pre-ping (app.db.create_engine), and a HotRead is one message."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from app.config import Settings
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


async def test_a_hot_read_outside_a_transaction_is_one_message_with_the_same_answer(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HotRead`` answers a session that has begun nothing straight from asyncpg: one message
    to the server, and the same rows (bind and result processing included) as inside a
    transaction. Here through the dialplan's caller lookup (JSON contracts, a VIP bind)."""
    from datetime import date, timedelta

    import asyncpg

    from app.db import unit_of_work
    from app.models import Contract
    from app.pbx.service import PbxLookupService
    from tests.fixtures.factories import make_customer

    maker = app.state.database.sessionmaker  # on the engine, not a test's rolled-back one
    today = date(2026, 12, 7)
    async with unit_of_work(maker) as s:
        plain = await make_customer(s, settings, "شرکت نمونه", ("02166554401",))
        vip = await make_customer(s, settings, "مدیر", ("021 6655 4401",), priority="VIP")
        s.add(
            Contract(
                customer_id=vip.id,
                level="gold",
                starts_on=today,
                ends_on=today + timedelta(days=20),
            )
        )
    sent: list[str] = []
    extended = asyncpg.Connection._do_execute

    async def spy(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        sent.append(query)
        return await extended(self, query, *args, **kw)

    try:
        async with unit_of_work(maker) as s:  # a new connection reads the codecs once
            await PbxLookupService(s, settings).caller("02166554401", today)
        monkeypatch.setattr(asyncpg.Connection, "_do_execute", spy)
        async with unit_of_work(maker) as s:
            fast = await PbxLookupService(s, settings).caller("+982166554401", today)
        monkeypatch.undo()
        assert len(sent) == 1, sent
        async with unit_of_work(maker) as s:
            await s.execute(text("SELECT 1"))  # a transaction has begun: the usual way
            usual = await PbxLookupService(s, settings).caller("+982166554401", today)
        assert fast == usual
        assert fast.customer_id == vip.id and fast.vip and fast.holders == 2
        assert fast.contract.status == "expiring" and fast.contract.level == "gold"
    finally:
        monkeypatch.undo()
        async with unit_of_work(maker) as s:
            await s.execute(
                text("DELETE FROM customers WHERE id IN (:a, :b)"), {"a": plain.id, "b": vip.id}
            )


async def test_the_dialplan_lookup_opens_no_session(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /pbx/lookup`` on the service's own sessions (bound to the engine) reads through
    the engine: no session is made for it (making, committing and closing one costs more CPU
    than the query), and its answer is the one a session gives."""
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.db import unit_of_work
    from tests.fixtures.factories import make_customer
    from tests.fixtures.pbx import calling_pbx

    maker = app.state.database.sessionmaker
    async with unit_of_work(maker) as s:
        known = await make_customer(s, settings, "خانم رضایی", ("09121110099",), priority="VIP")
    made: list[object] = []
    original = AsyncSession.__init__

    def counting(self: AsyncSession, *args: Any, **kw: Any) -> None:
        made.append(self)
        original(self, *args, **kw)

    transport = httpx.ASGITransport(app=app)
    try:
        with calling_pbx(app, settings, "main", "round-trip-token"):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                monkeypatch.setattr(AsyncSession, "__init__", counting)
                r = await c.get(
                    "/pbx/lookup?number=09121110099&format=json",
                    headers={"Authorization": "Bearer round-trip-token"},
                )
                monkeypatch.undo()
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["found"] == "1" and body["customer_id"] == str(known.id)
        assert body["vip"] == "1" and body["name"] == "خانم رضایی"
        assert made == []
    finally:
        monkeypatch.undo()
        async with unit_of_work(maker) as s:
            await s.execute(text("DELETE FROM customers WHERE id = :a"), {"a": known.id})
