"""The pops' notification: it carries the pops themselves when they fit in one (PostgreSQL
refuses 8,000 bytes or more), only their ids otherwise; either way each agent gets exactly
what a fetch of those pops gives, in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from app.db import Database, unit_of_work
from app.models import Role
from screenpop.fanout import PgFanout
from screenpop.hub import Connection, Hub
from screenpop.repository import NOTIFY_LIMIT
from screenpop.service import NOTIFY_CHANNEL, PopService
from tests.fixtures.factories import make_user


def _pop(user_id: int, linkedid: str, note: str) -> dict[str, Any]:
    payload = {"pbx": "pbx1", "linkedid": linkedid, "state": "ringing", "note": note}
    return {
        "user_id": user_id,
        "pbx": "pbx1",
        "linkedid": linkedid,
        "kind": "pop",
        "payload": payload,
    }


async def _drain(conn: Connection, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(conn.next(), 10.0) for _ in range(count)]


async def test_small_batches_travel_in_the_notification_big_ones_by_id(db: Database) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
        reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
        nobody = await make_user(session, Role.agent, devices=["PJSIP/1003"])
    hub = Hub()
    conns = {u.id: Connection(u.id) for u in (sara, reza)}
    for conn in conns.values():
        hub.add(conn, first_check=3600.0)
    heard: list[str] = []
    listener = await asyncpg.connect(db.dsn)
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.append(args[3]))
    fanout = PgFanout(db.dsn, hub, db.sessionmaker, "IR")
    await fanout.start()
    try:
        await asyncio.wait_for(fanout.connected.wait(), 10.0)
        small = [_pop(sara.id, "c1", "سلام"), _pop(reza.id, "c1", ""), _pop(nobody.id, "c1", "")]
        # Persian text is two bytes a letter: the limit is on bytes, not characters.
        big = [_pop(u.id, "c2", "ب" * 1000) for u in (sara, reza, sara, nobody, reza)]
        written: list[list[int]] = []
        for rows in (small, big):
            async with unit_of_work(db.sessionmaker) as session:
                written.append(await PopService(session, "IR").add(rows))
        got = {u: await _drain(conn, 3) for u, conn in conns.items()}
        async with db.sessionmaker() as session:
            fetched = await PopService(session, "IR").fetch(
                [i for ids in written for i in ids], [sara.id, reza.id]
            )
        for _ in range(100):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await fanout.stop()
        await listener.close()

    assert [len(ids) for ids in written] == [3, 5]
    assert all(ids == sorted(ids) for ids in written)
    # The first notification is the pops, the second (over the limit) their ids alone.
    first, second = (json.loads(h) for h in heard)
    assert [p[0] for p in first["pops"]] == written[0]
    assert [p[1] for p in first["pops"]] == [sara.id, reza.id, nobody.id]
    assert len(heard[0].encode()) < NOTIFY_LIMIT
    assert second == written[1]
    expected: dict[int, list[dict[str, Any]]] = {}
    for user_id, message in fetched:
        expected.setdefault(user_id, []).append(message)
    assert got == expected
    assert got[sara.id][0] == {
        "type": "pop",
        "seq": written[0][0],
        "pbx": "pbx1",
        "linkedid": "c1",
        "state": "ringing",
        "note": "سلام",
    }
    assert fanout.delivered == 6
