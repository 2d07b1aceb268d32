"""The API fuzzed against its own OpenAPI schema (schemathesis): every operation, called
anonymously, as an agent and as an admin, with inputs that fit the schema and inputs that do
not, never answers 5xx (but for a documented 502/503 in the one error shape: the PBX or the
storage is unreachable, as in these tests), and its answers have documented status codes,
content types and bodies. On the embedded PostgreSQL, in the rolled-back test transaction.

Deterministic by default (``derandomize``: CI cannot flake). For a longer, random local run::

    TAMAS_FUZZ_EXAMPLES=200 TAMAS_FUZZ_RANDOM=1 .venv/bin/pytest -q -p no:randomly \\
        tests/test_api_fuzz.py
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import install_error_handlers
from app.main import create_app
from app.models import Role
from tests.conftest import TEST_SECRET
from tests.fixtures.factories import make_customer, make_token, make_user

EXAMPLES = int(os.environ.get("TAMAS_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("TAMAS_FUZZ_RANDOM") != "1",
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def _schema() -> Any:
    # The schema of an app that is built, not started: nothing runs at import time.
    app = create_app(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            secret_key=TEST_SECRET,  # type: ignore[arg-type]
        )
    )
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
# The event stream answers a good request with a stream that never ends (the test client
# would wait for its end for ever): its refusals and its stream are tested in
# tests/integrations/test_served.py.
STREAMS = {"GET /api/events/stream"}
OPERATIONS = {
    result.ok().label: result.ok()
    for result in SCHEMA.get_all_operations()
    if result.ok().label not in STREAMS
}
ROLES = ["anonymous", Role.agent.value, Role.admin.value]
# A 5xx is a bug, but for these: the action needs a PBX (none answers in the tests) or the
# recordings' storage; documented on the operation, in the one error shape.
UNAVAILABLE = {"no_pbx", "pbx_unavailable", "pbx_refused", "storage_unavailable", "not_ready"}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Headers the client sets itself, or that would break the transport rather than test the app.
DROPPED = {"authorization", "content-length", "transfer-encoding", "host", "connection"}


@pytest.fixture
async def role_headers(
    request: pytest.FixtureRequest, session: AsyncSession, settings: Settings
) -> dict[str, str]:
    role: str = request.node.callspec.params["role"]
    # Something for the ids to find now and then (most random ids find nothing: 404).
    await make_customer(session, settings)
    if role == "anonymous":
        return {}
    user = await make_user(session, Role(role), devices=["PJSIP/1001"])
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


async def send(client: httpx.AsyncClient, kwargs: dict[str, Any], auth: dict[str, str]) -> Any:
    headers = {
        k: v
        for k, v in (kwargs.get("headers") or {}).items()
        if k.lower() not in DROPPED and _latin1(str(v))
    }
    cookies = kwargs.get("cookies") or {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    headers.update(auth)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, dict):
        body["data"] = data
    elif data is not None:
        body["content"] = data
    if kwargs.get("files"):
        # A form field's value may be generated as a number or null: sent as its text.
        body["files"] = [
            (name, (value[0], _as_bytes(value[1]), *value[2:])) for name, value in kwargs["files"]
        ]
    request = client.build_request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, **body
    )
    # Read now (multipart bodies stream): schemathesis reads the request back to report it.
    await request.aread()
    return await client.send(request)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
@FUZZ
@given(data=st.data())
async def test_no_operation_answers_5xx_and_every_answer_is_documented(
    client: httpx.AsyncClient,
    role_headers: dict[str, str],
    label: str,
    role: str,
    data: st.DataObject,
) -> None:
    operation = OPERATIONS[label]
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    case = data.draw(operation.as_strategy(generation_mode=mode))
    kwargs = case.as_transport_kwargs(base_url="http://tamas.test")
    response = await send(client, kwargs, role_headers)
    if response.status_code >= 500:
        documented = str(response.status_code) in operation.definition.raw.get("responses", {})
        code = response.json().get("error", {}).get("code") if _is_json(response) else None
        assert documented and code in UNAVAILABLE, (
            f"{label} as {role}: {response.status_code} {response.text[:500]}\nrequest: {kwargs}"
        )
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


# --- what the fuzzing found, pinned down -----------------------------------------------------


@pytest.fixture
async def admin(session: AsyncSession, settings: Settings) -> dict[str, str]:
    user = await make_user(session, Role.admin)
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/customers?q=%00",
        "/api/customers/lookup?number=0912%00",
        "/api/history?number=%00",
        "/api/reports/kpi?from=2026-11-01&to=2026-11-02&queue=a%00",
        "/api/tracking-codes/1234%005678",
        "/api/agent/queues/sup%00port/login",
        "/api/audit?action=%00",
    ],
)
async def test_a_nul_in_the_url_is_a_422_not_a_database_error(
    client: httpx.AsyncClient, admin: dict[str, str], url: str
) -> None:
    method = "POST" if url.endswith("/login") else "GET"
    r = await client.request(method, url, headers=admin)
    assert r.status_code == 422, r.text
    [field] = r.json()["error"]["fields"]
    assert field["field"].startswith(("query.", "path.")) and "NUL" in field["message"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("/api/reports/kpi?from=&to=", "at least 1 character"),
        ("/api/reports/kpi?from=2026-01-01&to=9999-12-31", "out of range"),
        ("/api/history?to=9999-12-31", "out of range"),
        ("/api/history?from=0001-01-01T00:00:00&to=2026-01-01", "out of range"),
    ],
)
async def test_empty_and_out_of_range_dates_are_a_422(
    client: httpx.AsyncClient, admin: dict[str, str], url: str, why: str
) -> None:
    r = await client.get(url, headers=admin)
    assert r.status_code == 422, r.text
    assert why in r.text


def test_every_operation_documents_its_errors_in_the_one_shape() -> None:
    for label, operation in OPERATIONS.items():
        responses = operation.definition.raw["responses"]
        content = responses["4XX"]["content"]
        assert list(content) == ["application/json"], label
        assert content["application/json"]["schema"]["required"] == ["error"], label
        assert "422" not in responses or "HTTPValidationError" not in json.dumps(
            responses["422"]
        ), label


async def test_a_value_postgresql_refuses_is_a_422_even_past_validation(app: FastAPI) -> None:
    """The safety net under the validation: asyncpg's data exceptions (SQLSTATE class 22)
    reach SQLAlchemy as a plain DBAPIError; they are still the client's input, so a 422."""
    probe = FastAPI()
    install_error_handlers(probe)
    engine = app.state.database.engine

    @probe.get("/probe")
    async def run(sql: str) -> None:
        async with engine.connect() as conn:
            await conn.execute(text(sql))

    transport = httpx.ASGITransport(app=probe, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as c:
        for sql in ("SELECT 100000::smallint", "SELECT 'abc'::varchar(2)::char(1)::int"):
            r = await c.get("/probe", params={"sql": sql})
            assert r.status_code == 422, (sql, r.text)
            assert r.json()["error"]["code"] == "invalid"
        # Not a data exception (an undefined table): still a server error.
        r = await c.get("/probe", params={"sql": "SELECT * FROM no_such_table"})
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal"
