from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import AuthService
from app.config import Settings
from app.models import AuthToken, LoginThrottle, Role
from tests.fixtures.factories import PASSWORD, make_token, make_user


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/token", json={"username": username, "password": password})


async def test_sign_in_returns_a_working_token(
    client: httpx.AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(session, Role.supervisor, devices=["PJSIP/1001"])
    caplog.set_level(logging.DEBUG)
    r = await sign_in(client, user.username.upper(), PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["role"] == "supervisor"
    assert body["user"]["devices"] == ["PJSIP/1001"]
    token = body["access_token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    # Secrets never reach the logs.
    assert PASSWORD not in caplog.text
    assert token not in caplog.text


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    wrong = await sign_in(client, user.username, "not the password")
    unknown = await sign_in(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "sign_in_failed"


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Sign-in's clock stopped: on a loaded machine the password hashing of the attempts
    can outlast a 1 s wait, which would then be over before the attempt meant to meet it."""
    now = datetime.now(UTC)
    monkeypatch.setattr("app.auth.service._now", lambda: now)
    return now


async def test_repeated_failures_are_slowed_down(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, frozen_now: datetime
) -> None:
    user = await make_user(session)
    for _ in range(settings.login_free_failures):
        assert (await sign_in(client, user.username, "guess")).status_code == 401
    # Now even the right password must wait.
    blocked = await sign_in(client, user.username, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert blocked.json()["error"]["code"] == "too_many_attempts"

    # Once the wait is over (moved into the past instead of sleeping), the right password
    # works and the counter is cleared.
    await session.execute(
        update(LoginThrottle).values(blocked_until=frozen_now - timedelta(seconds=1))
    )
    ok = await sign_in(client, user.username, PASSWORD)
    assert ok.status_code == 200, ok.text
    assert await session.get(LoginThrottle, f"user:{user.username}") is None


async def test_each_further_failure_doubles_the_wait(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    key = f"user:{user.username}"
    waits = []
    for _ in range(settings.login_free_failures + 3):
        await session.execute(update(LoginThrottle).values(blocked_until=None))
        assert (await sign_in(client, user.username, "guess")).status_code == 401
        row = await session.get(LoginThrottle, key)
        assert row is not None
        await session.refresh(row)
        if row.blocked_until is not None:
            waits.append(round((row.blocked_until - row.last_failure_at).total_seconds()))
    assert waits == [1, 2, 4, 8]


async def test_logout_revokes_the_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, user)}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    r = await client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    token = await make_token(session, settings, user)
    await session.execute(
        update(AuthToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_garbage_and_missing_tokens(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/auth/me")).status_code == 401
    r = await client.get("/api/auth/me", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
    r = await client.get("/api/auth/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


async def test_deactivated_user_is_signed_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(session, Role.admin)
    admin_headers = {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}
    agent = await make_user(session)
    agent_headers = {"Authorization": f"Bearer {await make_token(session, settings, agent)}"}
    r = await client.patch(
        f"/api/users/{agent.id}", json={"is_active": False}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert (await client.get("/api/auth/me", headers=agent_headers)).status_code == 401
    assert (await sign_in(client, agent.username, PASSWORD)).status_code == 401


async def test_password_change_needs_the_current_one_and_signs_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, user)}"}
    r = await client.post(
        "/api/auth/password",
        json={"current_password": "wrong", "new_password": "brand new secret"},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "current_password"
    r = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand new secret"},
        headers=headers,
    )
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
    assert (await sign_in(client, user.username, "brand new secret")).status_code == 200


async def test_one_address_guessing_many_usernames_is_slowed_down(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, frozen_now: datetime
) -> None:
    for i in range(settings.login_free_failures_per_address):
        assert (await sign_in(client, f"someone{i}", "guess")).status_code == 401
    # A new username from the same address must wait too.
    assert (await sign_in(client, "someone-else", "guess")).status_code == 429


async def test_open_sockets_tokens_are_checked_in_one_batch(
    session: AsyncSession, settings: Settings
) -> None:
    """The screen-pop keeper asks once for many tokens: revoked, expired and deactivated
    ones drop out, live ones are marked used."""
    auth = AuthService(session, settings)
    live, revoked, expired, gone = [await make_user(session) for _ in range(4)]
    tokens = {u.id: await make_token(session, settings, u) for u in (live, revoked, expired, gone)}
    digests = {uid: auth.digest(t) for uid, t in tokens.items()}
    now = datetime.now(UTC)
    await session.execute(
        update(AuthToken).where(AuthToken.user_id == revoked.id).values(revoked_at=now)
    )
    await session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == expired.id)
        .values(expires_at=now - timedelta(seconds=1))
    )
    gone.is_active = False
    await session.flush()

    found = await auth.live_digests([*digests.values(), auth.digest("never-issued")])
    assert found == {digests[live.id]}
    used = await session.scalar(select(AuthToken.last_used_at).where(AuthToken.user_id == live.id))
    assert used is not None
    assert await auth.live_digests([]) == set()


async def test_tokens_say_how_long_they_are_good_for(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """``expires_in`` (seconds from now, by the server's clock) is what the panel plans its
    refresh by; a refresh gives a whole new lifetime."""
    user = await make_user(session, Role.agent)
    r = await sign_in(client, user.username, PASSWORD)
    body = r.json()
    ttl = settings.token_ttl_hours * 3600
    assert ttl - 5 < body["expires_in"] <= ttl
    issued = datetime.fromisoformat(body["expires_at"]) - timedelta(seconds=body["expires_in"])
    assert abs((issued - datetime.now(UTC)).total_seconds()) < 5
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    refreshed = (await client.post("/api/auth/refresh", headers=headers)).json()
    assert ttl - 5 < refreshed["expires_in"] <= ttl
    assert refreshed["expires_at"] >= body["expires_at"]
