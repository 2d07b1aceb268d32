from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from tests.fixtures.factories import make_token, make_user


async def admin_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    admin = await make_user(session, Role.admin)
    return {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}


async def test_create_user_with_devices_and_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await admin_headers(session, settings)
    r = await client.post(
        "/api/users",
        json={
            "username": "Sara.K",
            "password": "a long password",
            "role": "agent",
            "full_name": "سارا کریمی",
            "devices": ["pjsip/1001", "1002", "SIP/1003"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["username"] == "sara.k"
    assert user["devices"] == ["PJSIP/1001", "PJSIP/1002", "SIP/1003"]
    assert "password" not in r.text and "hash" not in r.text
    r = await client.post(
        "/api/auth/token", json={"username": "sara.k", "password": "a long password"}
    )
    assert r.status_code == 200

    # Devices and usernames are unique.
    r = await client.post(
        "/api/users",
        json={"username": "other", "password": "a long password", "devices": ["PJSIP/1001"]},
        headers=headers,
    )
    assert r.status_code == 409
    assert "PJSIP/1001" in r.json()["error"]["message"]
    r = await client.post(
        "/api/users", json={"username": "SARA.K", "password": "a long password"}, headers=headers
    )
    assert r.status_code == 409

    r = await client.patch(
        f"/api/users/{user['id']}",
        json={"devices": ["PJSIP/1005"], "role": "supervisor"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["devices"] == ["PJSIP/1005"]
    assert r.json()["role"] == "supervisor"


async def test_bad_user_input(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await admin_headers(session, settings)
    r = await client.post(
        "/api/users",
        json={"username": "a b", "password": "short", "role": "boss", "devices": ["not a device"]},
        headers=headers,
    )
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert fields == {"body.username", "body.password", "body.role", "body.devices"}
    # The password is not echoed back in the error.
    assert "short" not in r.text


async def test_last_admin_cannot_be_demoted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(session, Role.admin)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}
    r = await client.patch(f"/api/users/{admin.id}", json={"role": "agent"}, headers=headers)
    assert r.status_code == 409
    second = await make_user(session, Role.admin)
    r = await client.patch(f"/api/users/{second.id}", json={"is_active": False}, headers=headers)
    assert r.status_code == 200


async def test_set_password_signs_the_user_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await admin_headers(session, settings)
    agent = await make_user(session)
    agent_headers = {"Authorization": f"Bearer {await make_token(session, settings, agent)}"}
    r = await client.put(
        f"/api/users/{agent.id}/password", json={"password": "set by admin"}, headers=headers
    )
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=agent_headers)).status_code == 401
    r = await client.post(
        "/api/auth/token", json={"username": agent.username, "password": "set by admin"}
    )
    assert r.status_code == 200
    assert (await client.get("/api/users/999999", headers=headers)).status_code == 404


async def test_admin_settings_hide_secrets(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await admin_headers(session, settings)
    r = await client.get("/api/admin/settings", headers=headers)
    assert r.status_code == 200
    assert r.json()["secret_key"] == "**********"
    assert settings.secret_key.get_secret_value() not in r.text
    assert r.json()["default_region"] == "IR"
