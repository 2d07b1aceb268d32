from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from tests.fixtures.factories import auth_headers, make_customer


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "pbxes": {}}


async def test_create_and_lookup(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await auth_headers(session, settings, Role.agent)
    r = await client.post(
        "/api/customers",
        json={"name": "علي كريمي", "phones": [{"number": "۰۹۱۲ ۱۲۳ ۴۵۶۷", "label": "mobile"}]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    await make_customer(session, settings, "Shared Office", ("+98 912 123 4567",))
    r = await client.get(
        "/api/customers/lookup", params={"number": "989121234567"}, headers=headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["e164"] == "+989121234567"
    assert sorted(c["name"] for c in body["customers"]) == ["Shared Office", "علي كريمي"]
    r = await client.get("/api/customers", params={"q": "علی کریمی"}, headers=headers)
    assert [c["name"] for c in r.json()["items"]] == ["علي كريمي"], r.text
    r = await client.get("/api/customers", params={"q": "1234"}, headers=headers)
    assert len(r.json()["items"]) == 2, r.text
