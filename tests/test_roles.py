"""The role matrix: every endpoint, every role. Anonymous callers get 401, roles without the
right get 403, the others get the endpoint's success status. The PBX's endpoints take its
token (and nobody else's); the websockets authenticate with their first message.

``test_every_route_has_a_rule`` walks the application's routes: a new endpoint, websocket or
mount with no entry in ``CASES``, ``PBX_CASES``, ``WS_CASES`` or ``PUBLIC`` fails it, named.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount, WebSocketRoute, compile_path

from app.config import PbxSettings, Settings
from app.deps import ROLE_RANK
from app.models import AuthToken, Role
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


QA_FORM = {
    "name": "Greeting",
    "sections": [
        {"title": "Start", "questions": [{"key": "hello", "text": "Hi?", "kind": "yes_no"}]}
    ],
}

CASES = [
    Case("GET", "/api/auth/me", AGENT_UP, 200),
    Case("POST", "/api/auth/refresh", AGENT_UP, 200),
    Case("POST", "/api/auth/logout", AGENT_UP, 204),
    # Past the role check: the current password given is wrong (422).
    Case(
        "POST",
        "/api/auth/password",
        AGENT_UP,
        422,
        {"current_password": "not it", "new_password": "brand new secret"},
    ),
    Case("GET", "/api/customers/{customer}/calls", AGENT_UP, 200),
    Case("GET", "/api/calls/999999", AGENT_UP, 404),
    Case("GET", "/api/audit", ADMIN, 200),
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
    Case("GET", "/api/recordings/999999/stream-url", AGENT_UP, 404),
    Case("PUT", "/api/recordings/999999/hold", SUPERVISOR_UP, 404, {"hold": True}),
    Case("GET", "/api/recordings/999999/audit", SUPERVISOR_UP, 404),
    # Tracking codes, notes, dispositions, callbacks, contracts.
    Case("POST", "/api/tracking-codes", AGENT_UP, 201, {"subject": "refund"}),
    Case("GET", "/api/tracking-codes/12345678", AGENT_UP, 422),  # mistyped: the check digit
    Case("PATCH", "/api/tracking-codes/12345678", AGENT_UP, 422, {"status": "closed"}),
    Case("POST", "/api/tracking-codes/12345678/calls", AGENT_UP, 422, {"call_id": 1}),
    Case("GET", "/api/tracking-codes", AGENT_UP, 200),
    Case("GET", "/api/cases/categories", AGENT_UP, 200),
    Case("POST", "/api/cases/categories", ADMIN, 201, {"name": "billing"}),
    Case("GET", "/api/cases/slas", AGENT_UP, 200),
    Case("PUT", "/api/cases/slas", ADMIN, 200, {"priority": "high", "resolution_minutes": 60}),
    Case("GET", "/api/cases/report?from=2026-11-01&to=2026-11-30", SUPERVISOR_UP, 200),
    Case("GET", "/api/calls/999999/notes", AGENT_UP, 404),
    Case("GET", "/api/calls/999999/tracking-codes", AGENT_UP, 404),
    Case("POST", "/api/calls/999999/notes", AGENT_UP, 404, {"text": "hello"}),
    Case("PUT", "/api/calls/999999/disposition", AGENT_UP, 404, {"disposition": "sale"}),
    Case("GET", "/api/callbacks", AGENT_UP, 200),
    Case("POST", "/api/callbacks/999999/claim", AGENT_UP, 404),
    Case("POST", "/api/callbacks/999999/release", AGENT_UP, 404),
    Case("POST", "/api/callbacks", AGENT_UP, 201, {"number": "09121234567", "in_minutes": 5}),
    Case("GET", "/api/callbacks/999999/attempts", AGENT_UP, 404),
    Case("PATCH", "/api/callbacks/999999", AGENT_UP, 404, {"note": "after 5"}),
    Case("POST", "/api/callbacks/999999/attempts", AGENT_UP, 404, {"outcome": "busy"}),
    Case("POST", "/api/callbacks/999999/dismiss", AGENT_UP, 404, {"reason": "emailed"}),
    Case("POST", "/api/callbacks/bulk", SUPERVISOR_UP, 200, {"ids": [999999], "action": "seen"}),
    # Tasks and reminders.
    Case("GET", "/api/tasks", AGENT_UP, 200),
    Case("GET", "/api/tasks/summary", AGENT_UP, 200),
    Case("POST", "/api/tasks", AGENT_UP, 201, {"title": "send the offer", "in_minutes": 60}),
    Case("PATCH", "/api/tasks/999999", AGENT_UP, 404, {"title": "renamed"}),
    Case("POST", "/api/tasks/999999/done", AGENT_UP, 404, {"note": ""}),
    Case("POST", "/api/tasks/999999/reopen", AGENT_UP, 404),
    Case("POST", "/api/tasks/999999/snooze", AGENT_UP, 404, {"minutes": 10}),
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
    Case("GET", "/api/reviews/unread", AGENT_UP, 200),
    Case("POST", "/api/reviews/999999/seen", AGENT_UP, 404),
    Case("GET", "/api/reports/kpi?from=2026-11-01&to=2026-11-30", AGENT_UP, 200),
    # Supervision: past the role check the caller has no phone (422), the session is unknown
    # (404), the agent is in no queue / the queue is not one agents log in to (422).
    Case("POST", "/api/supervision/spy", SUPERVISOR_UP, 422, {"agent_id": 1, "mode": "listen"}),
    Case("GET", "/api/supervision/spy", SUPERVISOR_UP, 200),
    Case("GET", "/api/supervision/spy/999999", SUPERVISOR_UP, 404),
    Case("POST", "/api/supervision/spy/999999/stop", SUPERVISOR_UP, 404),
    Case("POST", "/api/supervision/agents/{user}/pause", SUPERVISOR_UP, 422, {"reason": "lunch"}),
    Case("POST", "/api/supervision/agents/{user}/unpause", SUPERVISOR_UP, 422),
    Case("POST", "/api/supervision/agents/{user}/queues/support/login", SUPERVISOR_UP, 422),
    Case("POST", "/api/supervision/agents/{user}/queues/support/logout", SUPERVISOR_UP, 422),
    Case("GET", "/api/supervision/activity?from=2026-11-01&to=2026-11-30", AGENT_UP, 200),
    Case("GET", "/api/supervision/activity/timeline?day=1405-09-01", AGENT_UP, 200),
    # Texts to customers (queued: this app has no provider), their triggers and opt-outs;
    # surveys and CSAT.
    Case("POST", "/api/sms", AGENT_UP, 201, {"body": "سلام", "number": "09121234567"}),
    Case("GET", "/api/customers/{customer}/sms", AGENT_UP, 200),
    Case("GET", "/api/sms/triggers", SUPERVISOR_UP, 200),
    Case(
        "PUT",
        "/api/sms/triggers/missed_call",
        ADMIN,
        200,
        {"enabled": False, "template_fa": "تماس شما", "template_en": "your call"},
    ),
    Case("GET", "/api/sms/opt-outs", SUPERVISOR_UP, 200),
    Case("POST", "/api/sms/opt-outs", AGENT_UP, 201, {"number": "09121234567"}),
    Case("DELETE", "/api/sms/opt-outs/09129999999", SUPERVISOR_UP, 404),
    Case("GET", "/api/calls/999999/survey", AGENT_UP, 404),
    Case("GET", "/api/reports/csat?from=2026-11-01&to=2026-11-30", AGENT_UP, 200),
    # Integrations: webhooks are configured by admins; the event stream is for supervisors
    # and admins (past the role check: an unknown event type, 422, since a good request
    # would stream for ever).
    Case("GET", "/api/admin/webhooks/event-types", ADMIN, 200),
    Case("GET", "/api/admin/webhooks", ADMIN, 200),
    Case(
        "POST",
        "/api/admin/webhooks",
        ADMIN,
        201,
        {"url": "https://erp.example.com/hook", "event_types": ["call.ended"]},
    ),
    Case("GET", "/api/admin/webhooks/deliveries", ADMIN, 200),
    Case("POST", "/api/admin/webhooks/deliveries/999999/redeliver", ADMIN, 404),
    Case("GET", "/api/admin/webhooks/999999", ADMIN, 404),
    Case("PATCH", "/api/admin/webhooks/999999", ADMIN, 404, {"enabled": False}),
    Case("DELETE", "/api/admin/webhooks/999999", ADMIN, 404),
    Case("GET", "/api/events/stream?types=nope", SUPERVISOR_UP, 422),
    # QA: forms (an empty one is refused past the role check: 422), reviews (none: 404).
    Case("GET", "/api/supervision/qa/forms", AGENT_UP, 200),
    Case("POST", "/api/supervision/qa/forms", ADMIN, 422, {"name": "x", "sections": []}),
    Case("PUT", "/api/supervision/qa/forms/999999", ADMIN, 404, QA_FORM),
    Case(
        "POST",
        "/api/supervision/qa/reviews",
        SUPERVISOR_UP,
        404,
        {"form_id": 1, "call_id": 999999, "answers": {}},
    ),
    Case("GET", "/api/supervision/qa/reviews", AGENT_UP, 200),
    Case("GET", "/api/supervision/qa/reviews/999999", AGENT_UP, 404),
    Case("POST", "/api/supervision/qa/reviews/999999/acknowledge", AGENT_UP, 404, {}),
    Case("POST", "/api/supervision/qa/reviews/999999/dispute", AGENT_UP, 404, {"comment": "no"}),
    Case("GET", "/api/supervision/qa/trend?from=2026-11-01&to=2026-11-30", AGENT_UP, 200),
    Case("GET", "/api/supervision/periods?from=2026-11-01&to=2026-11-30", SUPERVISOR_UP, 200),
    Case(
        "GET", "/api/supervision/periods/heatmap?from=2026-11-01&to=2026-11-30", SUPERVISOR_UP, 200
    ),
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


# -- the PBX's endpoints: its token, not a user's -------------------------------------------

PBX_TOKEN = "pbx-token-for-the-role-matrix"


@dataclass(frozen=True)
class PbxCase:
    method: str
    path: str
    status: int  # with the PBX's token


PBX_CASES = [
    PbxCase("GET", "/pbx/lookup?number=09121234567", 200),
    PbxCase("GET", "/pbx/tracking?code=12345678", 200),
    # Past the token check, the form fields (number, queue) are missing (422).
    PbxCase("POST", "/pbx/callbacks?format=text", 422),
    PbxCase("GET", "/pbx/survey?linkedid=unknown.1&q1=5", 200),
    # Past the token check, a name outside the recordings' root is refused before anything
    # is stored (400).
    PbxCase("POST", "/pbx/recordings?name=../../outside.wav", 400),
]


@pytest.fixture
def pbx_settings(app: FastAPI, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    pbx = PbxSettings(
        id="roles", host="127.0.0.1", port=1, username="u", secret=SecretStr("s"),
        token=SecretStr(PBX_TOKEN),
    )  # fmt: skip
    conf = settings.model_copy(update={"pbxes": [pbx], "recordings_root": tmp_path})
    before = app.state.settings
    app.state.settings = conf
    yield conf
    app.state.settings = before


@pytest.mark.parametrize("caller", ["none", "admin token", "PBX token", "PBX token in query"])
@pytest.mark.parametrize("case", PBX_CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_pbx_endpoints(
    case: PbxCase,
    caller: str,
    client: httpx.AsyncClient,
    session: AsyncSession,
    pbx_settings: Settings,
) -> None:
    path, headers = case.path, {}
    if caller == "admin token":
        admin = await make_user(session, Role.admin)
        headers["Authorization"] = f"Bearer {await make_token(session, pbx_settings, admin)}"
    elif caller == "PBX token":
        headers["Authorization"] = f"Bearer {PBX_TOKEN}"
    elif caller == "PBX token in query":
        path += f"&token={PBX_TOKEN}"
    r = await client.request(
        case.method, path, headers=headers, content=b"RIFF" if case.method == "POST" else None
    )
    assert r.status_code == (case.status if caller.startswith("PBX") else 401), r.text


# -- websockets: the first message {type: auth, token} ----------------------------------------

# path -> the least role it serves (lower roles are closed with 4403)
WS_CASES = {"/ws/pops": Role.agent, "/ws/wallboard": Role.supervisor}


@pytest.fixture
async def ws_port(app: FastAPI, session: AsyncSession) -> AsyncIterator[int]:
    """The test's app served by uvicorn on a free local port (its lifespan is already
    entered; the requests see this test's transaction)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def _ws_answer(port: int, path: str, first: dict[str, Any] | None) -> int | str:
    """The close code the socket ends with, or the type of its first message."""
    async with websockets.connect(f"ws://127.0.0.1:{port}{path}") as ws:
        if first is not None:
            await ws.send(json.dumps(first))
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
        except websockets.ConnectionClosed:
            assert ws.close_code is not None
            return ws.close_code
        return str(message.get("type"))


@pytest.mark.parametrize("path", list(WS_CASES))
async def test_websocket_matrix(
    path: str, ws_port: int, session: AsyncSession, settings: Settings
) -> None:
    least = WS_CASES[path]
    # Not an auth message, no token (4400 on both sockets: they sign in alike),
    # a token nobody issued.
    assert await _ws_answer(ws_port, path, {"type": "hello"}) == 4400
    assert await _ws_answer(ws_port, path, {"type": "auth"}) == 4400
    assert await _ws_answer(ws_port, path, {"type": "auth", "token": "not-a-token"}) == 4401
    # A revoked token and an expired one.
    for column in ("revoked_at", "expires_at"):
        user = await make_user(session, Role.admin)
        token = await make_token(session, settings, user)
        await session.execute(
            update(AuthToken)
            .where(AuthToken.user_id == user.id)
            .values({column: datetime.now(UTC) - timedelta(seconds=1)})
        )
        assert await _ws_answer(ws_port, path, {"type": "auth", "token": token}) == 4401
    # Every role: below the least one 4403, from it up a first message that is not a close.
    for role in (Role.agent, Role.supervisor, Role.admin):
        user = await make_user(session, role, devices=[f"PJSIP/9{user_number()}"])
        token = await make_token(session, settings, user)
        answer = await _ws_answer(ws_port, path, {"type": "auth", "token": token})
        if ROLE_RANK[role] < ROLE_RANK[least]:
            assert answer == 4403, (path, role)
        else:
            assert isinstance(answer, str), (path, role, answer)


_numbers = itertools.count(100)


def user_number() -> int:
    return next(_numbers)


# -- every route has a rule -------------------------------------------------------------------

# Routes anyone may call, and why.
PUBLIC = {
    ("GET", "/"): "a redirect to the panel",
    ("POST", "/api/auth/token"): "signing in (throttled: tests/test_auth.py)",
    ("GET", "/health"): "liveness; no customer data",
    ("GET", "/healthz"): "liveness for orchestrators; no data",
    ("GET", "/readyz"): "readiness for orchestrators; no data",
    ("GET", "/metrics"): "counters only; TAMAS_METRICS_TOKEN closes it",
    ("GET", "/openapi.json"): "the API's description",
    ("GET", "/docs"): "Swagger UI",
    ("GET", "/docs/oauth2-redirect"): "part of Swagger UI",
    ("GET", "/redoc"): "ReDoc",
    ("MOUNT", "/panel"): "the panel's static files; its API calls carry the token",
    ("GET", "/api/recordings/{recording_id}/stream"): "no token: a short-lived address signed "
    "for one user and one recording (403 otherwise: tests/recordings/test_stream.py)",
    ("POST", "/sms/delivery/{provider}"): "an SMS provider's delivery report: refused without "
    "TAMAS_SMS_CALLBACK_TOKEN (tests/messaging/test_triggers.py)",
    ("GET", "/survey/{token}"): "the survey an SMS link opens: signed for one call, expiring "
    "(tests/messaging/test_surveys.py)",
    ("POST", "/survey/{token}"): "the answers of that survey: the same signed link",
}


def _case_paths() -> dict[str, list[str]]:
    """Concrete paths of the matrix's entries by method (ids filled in, query dropped)."""
    out: dict[str, list[str]] = {}
    for method, path in [(c.method, c.path) for c in CASES] + [
        (c.method, c.path) for c in PBX_CASES
    ]:
        concrete = path.split("?")[0].format(customer=1, phone=1, user=1)
        out.setdefault(method, []).append(concrete)
    return out


def test_every_route_has_a_rule(app: FastAPI) -> None:
    cases = _case_paths()
    missing: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if isinstance(route, Mount):
            if ("MOUNT", path) not in PUBLIC:
                missing.append(f"mount {path}")
            continue
        if isinstance(route, WebSocketRoute | APIWebSocketRoute):
            if path not in WS_CASES:
                missing.append(f"websocket {path}")
            continue
        regex, _, _ = compile_path(path)
        for method in sorted((context.methods or set()) - {"HEAD"}):
            if (method, path) in PUBLIC:
                continue
            if not any(regex.match(p) for p in cases.get(method, [])):
                missing.append(f"{method} {path}")
    assert not missing, (
        "routes with no rule in tests/test_roles.py (add a Case, PbxCase, WS_CASES entry or "
        "a PUBLIC line saying why): " + ", ".join(missing)
    )


def test_public_routes_still_exist(app: FastAPI) -> None:
    """A PUBLIC line for a route that is gone would hide a future one of the same path."""
    present = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            present.add(("MOUNT", context.path))
        for method in context.methods or ():
            present.add((method, context.path))
    stale = set(PUBLIC) - present
    optional = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    assert not stale - optional, stale
