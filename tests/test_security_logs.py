"""Secrets never reach the logs or an error message. Representative flows run against the
service on a real socket (uvicorn, its access log on) and the AMI listener against the
simulator; every captured log record (message, arguments, exception text) and every
response body is scanned for every secret used."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.models import Role
from telephony.handlers import CallRecorder
from telephony.listener import AmiListener, Backoff, PbxConfig
from telephony.simulator import AmiSimulator
from tests.conftest import TEST_SECRET
from tests.fixtures.factories import PASSWORD, make_token, make_user

AMI_USER = "tamas"
AMI_SECRET = "ami-secret-never-logged-7Q"
WRONG_AMI_SECRET = "wrong-ami-secret-never-logged-9Z"
PBX_TOKEN = "pbx-token-never-logged-5K"
NEW_PASSWORD = "new password never logged 3J"
WRONG_PASSWORD = "wrong password never logged 8M"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def record_texts(record: logging.LogRecord) -> list[str]:
    """Everything a handler could print of a record."""
    texts = [str(record.msg), repr(record.args)]
    with contextlib.suppress(TypeError, ValueError):
        texts.append(record.getMessage())
    if record.exc_info and record.exc_info[1] is not None:
        texts.append("".join(traceback.format_exception(record.exc_info[1])))
    if record.exc_text:
        texts.append(record.exc_text)
    # Extra fields (a JSON formatter prints them).
    texts += [repr(v) for k, v in vars(record).items() if k not in logging.LogRecord.__dict__]
    return texts


@pytest.fixture
async def served(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[str, Settings]]:
    """The running app with a PBX token configured, served by uvicorn with its access log
    propagating to the root logger (where caplog listens)."""
    pbx = PbxSettings(
        id="leaks", host="127.0.0.1", port=1, username=AMI_USER, secret=SecretStr(AMI_SECRET),
        token=SecretStr(PBX_TOKEN),
    )  # fmt: skip
    conf = settings.model_copy(update={"pbxes": [pbx], "recordings_root": tmp_path})
    before = app.state.settings
    app.state.settings = conf
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=True
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server))
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", conf
    finally:
        server.should_exit = True
        await task
        app.state.settings = before


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


async def test_no_secret_in_logs_or_errors(
    served: tuple[str, Settings],
    app: FastAPI,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, conf = served
    caplog.set_level(logging.DEBUG)
    # uvicorn's own loggers keep their level; the access log must be on for this.
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    bodies: list[str] = []
    secrets = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, AMI_SECRET, WRONG_AMI_SECRET, PBX_TOKEN}
    secrets.add(TEST_SECRET)

    admin = await make_user(session, Role.admin)
    agent = await make_user(session)
    admin_token = await make_token(session, conf, admin)
    secrets.add(admin_token)

    async with httpx.AsyncClient(base_url=base) as http:

        async def call(
            method: str, path: str, token: str | None = None, **kw: Any
        ) -> httpx.Response:
            headers = dict(kw.pop("headers", {}))
            if token:
                headers["Authorization"] = f"Bearer {token}"
            r = await http.request(method, path, headers=headers, **kw)
            bodies.append(r.text)
            return r

        # Sign-in: wrong password, right password, a password too long, malformed JSON.
        creds = {"username": agent.username, "password": WRONG_PASSWORD}
        assert (await call("POST", "/api/auth/token", json=creds)).status_code == 401
        creds["password"] = PASSWORD
        signed = await call("POST", "/api/auth/token", json=creds)
        assert signed.status_code == 200
        token = signed.json()["access_token"]
        secrets.add(token)
        bodies.pop()  # the one body that must carry a token
        long = {"username": agent.username, "password": PASSWORD * 100}
        assert (await call("POST", "/api/auth/token", json=long)).status_code == 422
        bad_json = f'{{"username": "x", "password": "{PASSWORD}"'
        r = await call(
            "POST",
            "/api/auth/token",
            content=bad_json,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422

        # Token use, rotation, revocation, a revoked one used again, one in the query.
        assert (await call("GET", "/api/auth/me", token)).status_code == 200
        rotated = await call("POST", "/api/auth/refresh", token)
        assert rotated.status_code == 200
        new_token = rotated.json()["access_token"]
        secrets.add(new_token)
        bodies.pop()
        assert (await call("GET", "/api/auth/me", token)).status_code == 401
        assert (await call("POST", "/api/auth/logout", new_token)).status_code == 204
        assert (await call("GET", "/api/auth/me", new_token)).status_code == 401
        assert (await call("GET", f"/api/auth/me?token={new_token}")).status_code == 401

        # The PBX's token, in the header and in the query; a wrong one.
        lookup = "/pbx/lookup?number=09121234567"
        assert (await call("GET", lookup, PBX_TOKEN)).status_code == 200
        assert (await call("GET", f"{lookup}&token={PBX_TOKEN}")).status_code == 200
        assert (await call("GET", f"{lookup}&token={PBX_TOKEN}x")).status_code == 401
        upload = f"/pbx/recordings?name=../x.wav&token={PBX_TOKEN}"
        assert (await call("POST", upload, content=b"RIFF")).status_code == 400

        # Users and passwords: set, changed, refused (too short, wrong current one).
        created = await call(
            "POST",
            "/api/users",
            admin_token,
            json={"username": "leaky", "password": NEW_PASSWORD, "role": "agent"},
        )
        assert created.status_code == 201
        uid = created.json()["id"]
        short = "s3cr7x"
        secrets.add(short)
        r = await call("PUT", f"/api/users/{uid}/password", admin_token, json={"password": short})
        assert r.status_code == 422
        r = await call(
            "PUT", f"/api/users/{uid}/password", admin_token, json={"password": NEW_PASSWORD}
        )
        assert r.status_code == 204
        r = await call(
            "POST",
            "/api/auth/password",
            admin_token,
            json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert r.status_code == 422
        # The settings as admins see them, and the audit log.
        assert (await call("GET", "/api/admin/settings", admin_token)).status_code == 200
        assert (await call("GET", "/api/audit", admin_token)).status_code == 200

    # The AMI listener: a wrong secret, then the right one.
    async with AmiSimulator(username=AMI_USER, secret=AMI_SECRET) as sim:
        for secret in (WRONG_AMI_SECRET, AMI_SECRET):
            listener = AmiListener(
                PbxConfig("leaks", "127.0.0.1", sim.port, AMI_USER, SecretStr(secret)),
                CallRecorder(app.state.database.sessionmaker),
                backoff=Backoff(first=0.05, most=0.2),
            )
            await listener.start()
            try:
                if secret == AMI_SECRET:
                    await eventually(lambda: _status(listener, "connected"))  # noqa: B023
                else:
                    await eventually(lambda: _reason(listener, "authentication failed"))  # noqa: B023
            finally:
                await listener.stop()

    # The settings' own text, as a traceback or a debug line would show it.
    for text in (repr(conf), str(conf), repr(conf.pbxes), str(conf.model_dump())):
        bodies.append(text)

    access = [r for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) >= 20, "the access log was not captured"
    assert any("token=***" in r.getMessage() for r in access)
    leaks = []
    # httpx and httpcore are this test's own client (it puts tokens in query strings on
    # purpose); everything else is the service.
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in service:
        for text in record_texts(record):
            leaks += [(record.name, record.levelname, s) for s in secrets if s in text]
    for body in bodies:
        leaks += [("response", body[:80], s) for s in secrets if s in body]
    assert not leaks, leaks


async def _status(listener: AmiListener, status: str) -> bool:
    return listener.health.status == status


async def _reason(listener: AmiListener, reason: str) -> bool:
    return reason in listener.health.reason
