"""Tamas served on a real socket, following a simulated PBX: webhooks registered through the
admin API are delivered from real calls, signed; the delivery log and redelivery; the event
stream (Server-Sent Events) with its filter, resumption and who may open it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.config import Settings
from app.db import Database, unit_of_work
from app.integrations import events as ev
from app.integrations import signing
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.integrations.receiver import Receiver, eventually, receiving
from tests.screenpop.support import following, instance_settings, replay, team


async def tokens_of(db: Database, settings: Settings) -> dict[str, str]:
    assert db.sessionmaker is not None
    out = {}
    async with unit_of_work(db.sessionmaker) as session:
        for role in (Role.agent, Role.supervisor, Role.admin):
            user = await make_user(session, role, username=f"{role.value}-hooks")
            out[role.value] = await make_token(session, settings, user)
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_webhooks_from_a_real_call_with_the_log_and_redelivery(
    db: Database, sim: AmiSimulator, fast: Settings
) -> None:
    await team(db, fast)
    tokens = await tokens_of(db, fast)
    admin = bearer(tokens["admin"])
    async with (
        receiving(Receiver()) as receiver,
        following(instance_settings(fast, db, sim)) as tamas,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{tamas.port}") as api,
    ):
        r = await api.post(
            "/api/admin/webhooks",
            json={"url": receiver.url, "event_types": ["call.ringing", "call.ended"]},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["secret_hint"] == "…" + secret[-4:]
        listed = (await api.get("/api/admin/webhooks", headers=admin)).json()
        assert [e["id"] for e in listed] == [created["id"]]
        assert "secret" not in listed[0]
        # Bad input: a clear 422.
        r = await api.post(
            "/api/admin/webhooks",
            json={"url": "ftp://x", "event_types": ["call.ended"]},
            headers=admin,
        )
        assert r.status_code == 422 and r.json()["error"]["fields"]
        r = await api.post(
            "/api/admin/webhooks",
            json={"url": receiver.url, "event_types": ["call.exploded"]},
            headers=admin,
        )
        assert r.status_code == 422 and "call.exploded" in r.json()["error"]["message"]

        await replay(sim, "01_direct_answered")

        async def has_end() -> bool:
            return any(r.headers["tamas-event-type"] == "call.ended" for r in receiver.received)

        await eventually(has_end)
        types = [r.headers["tamas-event-type"] for r in receiver.received]
        assert types == ["call.ringing", "call.ended"]
        for got in receiver.received:
            signing.verify(secret, got.headers["tamas-signature"], got.body)
        ended = json.loads(receiver.received[-1].body)
        assert ended["data"]["log"]["outcome"] == "answered"

        async def log() -> list[dict[str, Any]]:
            r = await api.get(
                "/api/admin/webhooks/deliveries",
                params={"endpoint_id": created["id"]},
                headers=admin,
            )
            assert r.status_code == 200
            rows: list[dict[str, Any]] = r.json()
            return rows

        async def all_delivered() -> bool:
            return [d["status"] for d in await log()] == ["delivered", "delivered"]

        await eventually(all_delivered)
        rows = await log()
        assert [d["event_type"] for d in rows] == ["call.ended", "call.ringing"]  # newest first
        assert [[a["status_code"] for a in d["log"]] for d in rows] == [[200], [200]]
        assert all(d["log"][0]["duration_ms"] > 0 for d in rows)
        counts = (await api.get(f"/api/admin/webhooks/{created['id']}", headers=admin)).json()
        assert counts["deliveries"] == {"delivered": 2}

        r = await api.post(
            f"/api/admin/webhooks/deliveries/{rows[0]['id']}/redeliver", headers=admin
        )
        assert r.status_code == 201
        again = r.json()
        assert (again["event_id"], again["redelivery_of"]) == (rows[0]["event_id"], rows[0]["id"])

        async def redelivered() -> bool:
            return receiver.event_ids().count(rows[0]["event_id"]) == 2

        await eventually(redelivered)
        r = await api.post("/api/admin/webhooks/deliveries/999999/redeliver", headers=admin)
        assert r.status_code == 404

        # Disabled: no more deliveries; deleted: gone with its log.
        r = await api.patch(
            f"/api/admin/webhooks/{created['id']}", json={"enabled": False}, headers=admin
        )
        assert r.status_code == 200 and r.json()["enabled"] is False and "secret" not in r.json()
        r = await api.patch(
            f"/api/admin/webhooks/{created['id']}", json={"rotate_secret": True}, headers=admin
        )
        assert r.json()["secret"] not in ("", secret)
        r = await api.delete(f"/api/admin/webhooks/{created['id']}", headers=admin)
        assert r.status_code == 204
        assert (await log()) == []


async def read_events(response: httpx.Response, wanted: int) -> AsyncIterator[dict[str, Any]]:
    """The events of an SSE response as dicts (event, id, data), ``wanted`` of them."""
    current: dict[str, Any] = {}
    seen = 0
    async for line in response.aiter_lines():
        if not line:
            if "data" in current:
                yield current
                seen += 1
                if seen == wanted:
                    return
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        current[key] = value.removeprefix(" ")


async def test_the_event_stream_filters_and_resumes(
    db: Database, sim: AmiSimulator, fast: Settings
) -> None:
    await team(db, fast)
    tokens = await tokens_of(db, fast)
    async with (
        following(instance_settings(fast, db, sim)) as tamas,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{tamas.port}", timeout=30) as api,
    ):
        url = "/api/events/stream"
        assert (await api.get(url)).status_code == 401
        assert (await api.get(url, headers=bearer(tokens["agent"]))).status_code == 403
        assert (await api.get(url, headers=bearer("nope"))).status_code == 401
        r = await api.get(url, params={"types": "call.nope"}, headers=bearer(tokens["supervisor"]))
        assert r.status_code == 422

        params = {"types": "call.answered,call.ended"}
        async with api.stream(
            "GET", url, params=params, headers=bearer(tokens["supervisor"])
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await replay(sim, "01_direct_answered")
            got = [e async for e in read_events(response, 2)]
        assert [e["event"] for e in got] == ["call.answered", "call.ended"]
        payloads = [json.loads(e["data"]) for e in got]
        assert [p["type"] for p in payloads] == ["call.answered", "call.ended"]
        assert all(p["version"] == ev.VERSION for p in payloads)
        assert int(got[0]["id"]) < int(got[1]["id"])

        # Reconnecting with the first one's id: the second comes again (and nothing else).
        resume = {**bearer(tokens["admin"]), "Last-Event-ID": got[0]["id"]}
        async with api.stream("GET", url, params=params, headers=resume) as response:
            [again] = [e async for e in read_events(response, 1)]
        assert again == got[1]
