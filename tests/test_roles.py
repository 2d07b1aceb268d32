"""The role matrix: every endpoint, every role. Anonymous callers get 401, roles without the
right get 403, the others get the endpoint's success status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from tests.fixtures.factories import make_customer, make_token, make_user

ANON = "anonymous"
ROLES = [ANON, Role.agent.value, Role.supervisor.value, Role.admin.value]
AGENT_UP = {"agent", "supervisor", "admin"}
SUPERVISOR_UP = {"supervisor", "admin"}
ADMIN = {"admin"}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: set[str]
    status: int
    json: dict[str, Any] | None = None
    files: bool = False


CASES = [
    Case("GET", "/api/auth/me", AGENT_UP, 200),
    Case("GET", "/api/customers", AGENT_UP, 200),
    Case("GET", "/api/customers/lookup?number=09121234567", AGENT_UP, 200),
    Case("GET", "/api/customers/{customer}", AGENT_UP, 200),
    Case("POST", "/api/customers", AGENT_UP, 201, {"name": "نگار", "phones": []}),
    Case("PATCH", "/api/customers/{customer}", AGENT_UP, 200, {"notes": "called back"}),
    Case("POST", "/api/customers/{customer}/phones", AGENT_UP, 201, {"number": "02188776655"}),
    Case("DELETE", "/api/customers/{customer}/phones/{phone}", AGENT_UP, 200),
    Case("DELETE", "/api/customers/{customer}", SUPERVISOR_UP, 204),
    Case("POST", "/api/customers/import", SUPERVISOR_UP, 200, files=True),
    Case("GET", "/api/users", SUPERVISOR_UP, 200),
    Case("GET", "/api/users/{user}", SUPERVISOR_UP, 200),
    Case(
        "POST",
        "/api/users",
        ADMIN,
        201,
        {"username": "newagent", "password": "long enough 1", "devices": ["PJSIP/1009"]},
    ),
    Case("PATCH", "/api/users/{user}", ADMIN, 200, {"full_name": "Renamed"}),
    Case("PUT", "/api/users/{user}/password", ADMIN, 204, {"password": "another secret"}),
    Case("POST", "/api/users/{user}/revoke-tokens", ADMIN, 200),
    Case("GET", "/api/admin/settings", ADMIN, 200),
    # Click-to-call and availability: past the role check, this app has no PBX (503), the
    # click-to-call is unknown (404), the user is in no queue (422).
    Case("POST", "/api/originations", AGENT_UP, 503, {"number": "09121234567"}),
    Case("GET", "/api/originations/999999", AGENT_UP, 404),
    Case("GET", "/api/agent/status", AGENT_UP, 200),
    Case("GET", "/api/agent/options", AGENT_UP, 200),
    Case("POST", "/api/agent/pause", AGENT_UP, 422, {"reason": "lunch"}),
    Case("POST", "/api/agent/unpause", AGENT_UP, 422),
    Case("POST", "/api/agent/queues/support/login", AGENT_UP, 422),
    Case("POST", "/api/agent/queues/support/logout", AGENT_UP, 422),
    # Recordings (none exist here: 404 past the role check). The PBX upload endpoint takes a
    # PBX token, not a user's: tests/recordings/test_recordings_api.py.
    Case("GET", "/api/calls/999999/recordings", AGENT_UP, 404),
    Case("GET", "/api/recordings/999999", AGENT_UP, 404),
    Case("GET", "/api/recordings/999999/audio", AGENT_UP, 404),
    Case("PUT", "/api/recordings/999999/hold", SUPERVISOR_UP, 404, {"hold": True}),
    Case("GET", "/api/recordings/999999/audit", SUPERVISOR_UP, 404),
    # Tracking codes, notes, dispositions, callbacks, contracts.
    Case("POST", "/api/tracking-codes", AGENT_UP, 201, {"subject": "refund"}),
    Case("GET", "/api/tracking-codes/12345678", AGENT_UP, 422),  # mistyped: the check digit
    Case("PATCH", "/api/tracking-codes/12345678", AGENT_UP, 422, {"status": "closed"}),
    Case("POST", "/api/tracking-codes/12345678/calls", AGENT_UP, 422, {"call_id": 1}),
    Case("GET", "/api/calls/999999/notes", AGENT_UP, 404),
    Case("POST", "/api/calls/999999/notes", AGENT_UP, 404, {"text": "hello"}),
    Case("PUT", "/api/calls/999999/disposition", AGENT_UP, 404, {"disposition": "sale"}),
    Case("GET", "/api/callbacks", AGENT_UP, 200),
    Case("POST", "/api/callbacks/999999/claim", AGENT_UP, 404),
    Case("POST", "/api/callbacks/999999/release", AGENT_UP, 404),
    Case("GET", "/api/customers/{customer}/contracts", AGENT_UP, 200),
    Case("GET", "/api/customers/{customer}/contract-status", AGENT_UP, 200),
    Case(
        "POST",
        "/api/customers/{customer}/contracts",
        SUPERVISOR_UP,
        201,
        {"level": "gold", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    ),
    Case(
        "PUT",
        "/api/contracts/999999",
        SUPERVISOR_UP,
        404,
        {"level": "gold", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    ),
    Case("DELETE", "/api/contracts/999999", SUPERVISOR_UP, 404),
    Case("GET", "/api/contracts/expiring", AGENT_UP, 200),
    # The call history, its export and reviews.
    Case("GET", "/api/history", AGENT_UP, 200),
    Case("GET", "/api/history/export.csv", SUPERVISOR_UP, 200),
    Case("POST", "/api/calls/999999/reviews", SUPERVISOR_UP, 404, {"score": 3}),
    Case("GET", "/api/calls/999999/reviews", AGENT_UP, 404),
    Case("GET", "/api/reports/kpi?from=2026-11-01&to=2026-11-30", AGENT_UP, 200),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_role_matrix(
    case: Case,
    role: str,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    customer = await make_customer(session, settings, "مشتری نمونه", ("09351112233",))
    target = await make_user(session, Role.agent)
    path = case.path.format(customer=customer.id, phone=customer.phones[0].id, user=target.id)
    headers = {}
    if role != ANON:
        caller = await make_user(session, Role(role))
        headers["Authorization"] = f"Bearer {await make_token(session, settings, caller)}"
    kwargs: dict[str, Any] = {"headers": headers}
    if case.json is not None:
        kwargs["json"] = case.json
    if case.files:
        kwargs["files"] = {"file": ("c.csv", "name,mobile\nرضا,09121112233\n".encode(), "text/csv")}

    r = await client.request(case.method, path, **kwargs)

    if role == ANON:
        expected = 401
    elif role in case.allowed:
        expected = case.status
    else:
        expected = 403
    assert r.status_code == expected, r.text
    if expected >= 400:
        assert set(r.json()["error"]) == {"code", "message", "fields"}
