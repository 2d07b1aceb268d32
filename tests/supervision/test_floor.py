"""A supervisor pauses, unpauses and moves an agent between queues over the real AMI socket;
the agent's panel (its websocket) hears the PBX's change and who made it."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import AuditEvent, QueueMember, Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import eventually, following, instance_settings, team


def api(port: int, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )


async def test_a_supervisor_pauses_and_moves_an_agent(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        boss = await make_user(session, Role.supervisor, username="boss")
        boss.full_name = "نگار سرپرست"
        boss_token = await make_token(session, settings, boss)
        nima = await make_user(session, username="nima", devices=["PJSIP/1004"])
        nima_token = await make_token(session, settings, nima)
    conf = instance_settings(settings, db, sim)
    conf = conf.model_copy(
        update={"pbxes": [conf.pbxes[0].model_copy(update={"login_queues": ["support"]})]}
    )
    async with following(conf) as tamas, api(tamas.port, boss_token) as client:
        sara = await tamas.agent(tokens["1001"])
        sara_id = sara.hello["user"]["id"]
        async with api(tamas.port, tokens["1001"]) as agent:
            r = await agent.post(f"/api/supervision/agents/{sara_id}/pause", json={"reason": "x"})
            assert r.status_code == 403

        r = await client.post(f"/api/supervision/agents/{sara_id}/pause", json={"reason": "nap"})
        assert r.status_code == 422  # not a configured reason
        r = await client.post(
            f"/api/supervision/agents/{sara_id}/pause", json={"reason": "training"}
        )
        assert r.status_code == 202, r.text
        assert r.json() == {"actions": 1, "agent_id": sara_id, "action": "pause"}
        # The PBX's QueueMemberPause makes her paused; her panel is told who did it.
        await sara.wait_for_status(lambda s: s["paused"] and s["reason"] == "training")

        async def told() -> bool:
            return any(m["type"] == "supervised" for m in sara.messages)

        await eventually(told)
        (note,) = [m for m in sara.messages if m["type"] == "supervised"]
        assert note["action"] == "pause" and note["reason"] == "training"
        assert note["by"]["name"] == "نگار سرپرست" and note["by"]["role"] == "supervisor"

        r = await client.post(f"/api/supervision/agents/{sara_id}/unpause")
        assert r.status_code == 202
        await sara.wait_for_status(lambda s: not s["paused"] and s["state"] == "available")

        # Nima logs in to no queue himself: his supervisor puts him in, then out.
        panel = await tamas.agent(nima_token)
        r = await client.post(f"/api/supervision/agents/{nima.id}/queues/support/login")
        assert r.status_code == 202, r.text
        await panel.wait_for_status(lambda s: bool(s["queues"]))
        assert panel.statuses[-1]["queues"][0]["membership"] == "dynamic"
        r = await client.post(f"/api/supervision/agents/{nima.id}/queues/support/login")
        assert r.status_code == 502 and "Already there" in r.json()["error"]["message"]
        r = await client.post(f"/api/supervision/agents/{nima.id}/queues/support/logout")
        assert r.status_code == 202
        await panel.wait_for_status(lambda s: s["state"] == "no_queue")

        async def both_told() -> bool:
            return [m["action"] for m in panel.messages if m["type"] == "supervised"] == [
                "queue_login",
                "queue_logout",
            ]

        await eventually(both_told)
        r = await client.post("/api/supervision/agents/999999/unpause")
        assert r.status_code == 404

    async with db.sessionmaker() as session:
        actions = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.target)
                .where(AuditEvent.action.like("supervision_%"))
                .order_by(AuditEvent.id)
            )
        ).all()
        members = (await session.execute(select(QueueMember))).scalars().all()
    assert [a for a, _ in actions] == [
        "supervision_pause",
        "supervision_unpause",
        "supervision_queue_login",
        "supervision_queue_logout",
    ]
    assert all(not m.paused for m in members)
