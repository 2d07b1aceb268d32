"""Security headers, CORS (closed by default), cookies that never authenticate, token
rotation, and sign-in throttling that a forged X-Forwarded-For cannot dodge."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.config import Settings
from app.headers import API_CSP, DOCS_CSP, HSTS
from app.main import create_app
from app.models import LoginThrottle, Role
from tests.fixtures.factories import PASSWORD, make_token, make_user

ORIGIN = "https://crm.example.com"


async def bearer(session: AsyncSession, settings: Settings, role: Role = Role.agent) -> str:
    return await make_token(session, settings, await make_user(session, role))


async def test_every_api_response_carries_the_headers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    token = await bearer(session, settings)
    for r in (
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}),
        await client.get("/api/auth/me"),  # an error too
        await client.get("/api/customers/not-a-number", headers={"Authorization": "Bearer x"}),
        await client.get("/pbx/lookup?number=1"),
    ):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Content-Security-Policy"] == API_CSP
        # Personal data is never stored by a browser or a shared cache.
        assert r.headers["Cache-Control"] == "no-store"
        # Plain HTTP here (TAMAS_HTTPS unset): no HSTS, which would lock browsers out.
        assert "Strict-Transport-Security" not in r.headers


async def test_docs_keep_a_policy_that_lets_them_load(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"] == DOCS_CSP
    # The CDN the page loads Swagger UI from is the one the policy allows.
    assert "https://cdn.jsdelivr.net/" in r.text and "https://cdn.jsdelivr.net" in DOCS_CSP
    assert "no-store" not in r.headers.get("Cache-Control", "")
    schema = await client.get("/openapi.json")
    assert schema.headers["Content-Security-Policy"] == API_CSP


async def test_the_panel_keeps_its_own_policy(client: httpx.AsyncClient) -> None:
    r = await client.get("/panel/")
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"] != API_CSP
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def _sibling(app: FastAPI, settings: Settings, **changes: object) -> FastAPI:
    """An app with other settings, sharing the running app's database (no second
    lifespan)."""
    other = create_app(settings.model_copy(update=changes))
    other.state.database = app.state.database
    other.state.sessionmaker = app.state.sessionmaker
    return other


@pytest.fixture
async def cors_client(
    app: FastAPI, session: AsyncSession, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    other = _sibling(app, settings, cors_origins=[ORIGIN], https=True)
    transport = httpx.ASGITransport(app=other, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://tamas.test") as c:
        yield c


async def test_cors_is_closed_by_default(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    token = await bearer(session, settings)
    preflight = await client.options(
        "/api/customers",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    r = await client.get(
        "/api/auth/me", headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


async def test_cors_opens_to_named_origins_only(
    cors_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    token = await bearer(session, settings)
    preflight = await cors_client.options(
        "/api/customers",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    r = await cors_client.get(
        "/api/auth/me", headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["Strict-Transport-Security"] == HSTS
    stranger = await cors_client.get(
        "/api/auth/me",
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {token}"},
    )
    assert "access-control-allow-origin" not in stranger.headers
    refused = await cors_client.options(
        "/api/customers",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert refused.status_code == 400


@pytest.mark.parametrize("origins", [["*"], ["crm.example.com"], ["https://a.example/path"]])
def test_cors_origins_must_be_named_origins(settings: Settings, origins: list[str]) -> None:
    with pytest.raises(ValueError, match="CORS origin"):
        Settings.model_validate({**settings.model_dump(), "cors_origins": origins})


async def test_a_cookie_alone_never_authenticates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Tamas authenticates by the Authorization header only, so a page elsewhere cannot
    borrow a signed-in browser's cookies (CSRF does not apply)."""
    token = await bearer(session, settings, Role.admin)
    for name in ("token", "access_token", "Authorization", "session", "tamas.token"):
        for value in (token, f"Bearer {token}"):
            client.cookies.set(name, value)
            r = await client.get("/api/auth/me")
            assert r.status_code == 401, name
            r = await client.post("/api/users/1/revoke-tokens")
            assert r.status_code == 401, name
            client.cookies.clear()
    r = await client.post("/api/auth/token", json={"username": "x", "password": "y"})
    assert "set-cookie" not in r.headers


async def test_refresh_rotates_the_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    old = await make_token(session, settings, user)
    r = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 200, r.text
    new = r.json()["access_token"]
    assert new != old and r.json()["user"]["id"] == user.id
    assert (
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {new}"})
    ).status_code == 200
    # The old one is revoked: it neither works nor refreshes again.
    assert (
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 401
    again = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert again.status_code == 401
    assert (await client.post("/api/auth/refresh")).status_code == 401


async def test_sign_out_then_refresh_fails(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    r = await client.post("/api/auth/token", json={"username": user.username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.post("/api/auth/refresh", headers=headers)).status_code == 401


def _behind_proxy(app: FastAPI, settings: Settings, peer: str) -> httpx.AsyncClient:
    """The app as ``tamas serve`` runs it: uvicorn's proxy-header handling with the
    configured trusted proxies, reached from ``peer``."""
    wrapped = ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=wrapped, client=(peer, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://tamas.test")


async def test_a_forged_forwarded_for_does_not_dodge_the_throttle(
    app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    assert settings.forwarded_allow_ips == "127.0.0.1"  # the default: only a local proxy
    async with _behind_proxy(app, settings, "198.51.100.20") as direct:
        for i in range(settings.login_free_failures_per_address):
            r = await direct.post(
                "/api/auth/token",
                json={"username": f"guess{i}", "password": "x"},
                headers={"X-Forwarded-For": f"192.0.2.{i + 1}"},
            )
            assert r.status_code == 401
        r = await direct.post(
            "/api/auth/token",
            json={"username": "another", "password": "x"},
            headers={"X-Forwarded-For": "192.0.2.200"},
        )
        assert r.status_code == 429
    keys = set(
        await session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.like("ip:%")))
    )
    assert keys == {"ip:198.51.100.20"}


async def test_a_trusted_proxy_forwards_the_real_address(
    app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    async with _behind_proxy(app, settings, "127.0.0.1") as proxied:
        r = await proxied.post(
            "/api/auth/token",
            json={"username": "someone", "password": "x"},
            headers={"X-Forwarded-For": "192.0.2.77"},
        )
        assert r.status_code == 401
    keys = set(
        await session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.like("ip:%")))
    )
    assert keys == {"ip:192.0.2.77"}
