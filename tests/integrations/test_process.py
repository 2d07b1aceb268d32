"""Deliveries in a process of their own (TAMAS_WEBHOOK_WORKER=process, `tamas serve`'s
default): the child that Tamas starts delivers a real call's webhooks, signed; killed, it is
started again and goes on; when Tamas stops, it stops."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx

from app.config import Settings
from app.db import Database
from app.integrations import signing
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.integrations.receiver import Receiver, eventually, receiving
from tests.screenpop.support import following, instance_settings, replay, team


async def test_a_child_process_delivers_and_is_kept_running(
    db: Database, sim: AmiSimulator, fast: Settings
) -> None:
    assert db.sessionmaker is not None
    await team(db, fast)
    async with db.sessionmaker() as session:
        admin = await make_user(session, Role.admin, username="admin-process")
        token = await make_token(session, fast, admin)
        await session.commit()
    conf = instance_settings(fast, db, sim).model_copy(update={"webhook_worker": "process"})
    async with (
        receiving(Receiver()) as receiver,
        following(conf) as tamas,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{tamas.port}") as api,
    ):
        child = tamas.app.state.webhook_process
        assert tamas.app.state.webhooks is None  # nothing delivers in this process
        r = await api.post(
            "/api/admin/webhooks",
            json={"url": receiver.url, "event_types": ["call.ended"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]

        await replay(sim, "01_direct_answered")
        await eventually(lambda: _got(receiver, 1))
        [first] = receiver.received
        signing.verify(secret, first.headers["tamas-signature"], first.body)
        assert json.loads(first.body)["data"]["log"]["outcome"] == "answered"

        # The child dies: Tamas starts another, which delivers the next call's end.
        assert child.proc is not None and child.starts == 1
        child.proc.send_signal(signal.SIGKILL)
        await eventually(lambda: _started(child, 2))
        await replay(sim, "02_direct_noanswer")
        await eventually(lambda: _outcome(receiver, "missed"))
        # (The first end may come a second time: a delivery the killed child had made and
        # not yet written down is made again once its lease runs out: at least once.)
        assert len(set(receiver.event_ids(200))) == 2
        proc = child.proc
    # Tamas stopped: so did its child.
    assert proc is not None and proc.returncode is not None
    assert proc.returncode == 0  # stopped by SIGTERM, cleanly


async def _got(receiver: Receiver, n: int) -> bool:
    return len(receiver.event_ids(200)) >= n


async def _outcome(receiver: Receiver, outcome: str) -> bool:
    return any(json.loads(r.body)["data"]["log"]["outcome"] == outcome for r in receiver.received)


async def _started(child: object, n: int) -> bool:
    proc = getattr(child, "proc", None)
    await asyncio.sleep(0)
    return getattr(child, "starts", 0) >= n and proc is not None and proc.returncode is None
