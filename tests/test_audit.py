"""The audit log: every audited action leaves one entry, written with the action (a
rolled-back action leaves none), never a secret's value; admins read it through
``GET /api/audit``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.audit.service import AuditService
from app.cli import cli
from app.config import PbxSettings, Settings
from app.db import Database
from app.main import _audit_settings
from app.models import AuditEvent, Recording, Role, SettingDigest
from tests.fixtures.factories import PASSWORD, make_customer, make_token, make_user
from tests.recordings.support import PBX, TRACE_FILE, UPLOAD_TOKEN, check, record, team, tone

ADDRESS = "203.0.113.7"  # the test client's address (tests/conftest.py)


async def events(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(rows)


async def bearer(session: AsyncSession, settings: Settings, role: Role) -> dict[str, str]:
    user = await make_user(session, role)
    return {"Authorization": f"Bearer {await make_token(session, settings, user)}"}


async def test_sign_in_failure_sign_out_and_refresh(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    bad = await client.post(
        "/api/auth/token", json={"username": user.username, "password": "not it"}
    )
    assert bad.status_code == 401
    (failed,) = await events(session, "sign_in_failed")
    assert (failed.actor_user_id, failed.actor_name, failed.address) == (
        None,
        user.username,
        ADDRESS,
    )
    assert "not it" not in json.dumps(failed.details)

    ok = await client.post(
        "/api/auth/token", json={"username": user.username, "password": PASSWORD}
    )
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    (signed_in,) = await events(session, "sign_in")
    assert (signed_in.actor_user_id, signed_in.address) == (user.id, ADDRESS)

    refreshed = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {token}"})
    assert refreshed.status_code == 200
    assert [e.actor_user_id for e in await events(session, "token_refreshed")] == [user.id]
    new = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.post("/api/auth/logout", headers=new)).status_code == 204
    assert [e.actor_user_id for e in await events(session, "sign_out")] == [user.id]
    for event in await session.scalars(select(AuditEvent)):
        assert PASSWORD not in json.dumps(event.details)
        assert token not in json.dumps(event.details) + event.target


async def test_throttled_sign_in_leaves_no_entry(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A refused attempt (429) is rolled back with everything else it did."""
    user = await make_user(session)
    for _ in range(settings.login_free_failures):
        await client.post("/api/auth/token", json={"username": user.username, "password": "x"})
    blocked = await client.post(
        "/api/auth/token", json={"username": user.username, "password": "x"}
    )
    assert blocked.status_code == 429
    assert len(await events(session, "sign_in_failed")) == settings.login_free_failures


async def test_user_administration(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(session, Role.admin)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}
    created = await client.post(
        "/api/users",
        json={"username": "audited", "password": "a long secret 1", "role": "agent"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    r = await client.patch(f"/api/users/{uid}", json={"role": "supervisor"}, headers=headers)
    assert r.status_code == 200
    r = await client.put(
        f"/api/users/{uid}/password", json={"password": "another secret 2"}, headers=headers
    )
    assert r.status_code == 204
    r = await client.post(f"/api/users/{uid}/revoke-tokens", headers=headers)
    assert r.status_code == 200

    for action, details in (
        ("user_created", {"role": "agent"}),
        ("user_changed", {"role": "supervisor"}),
        ("password_set", {}),
        ("tokens_revoked", {"revoked": 0}),
    ):
        (event,) = await events(session, action)
        assert (event.actor_user_id, event.actor_name) == (admin.id, admin.username)
        assert (event.target, event.address, event.details) == (f"user:{uid}", ADDRESS, details)

    # A change refused (demoting the last admin is a conflict) is not audited.
    r = await client.patch(f"/api/users/{admin.id}", json={"role": "agent"}, headers=headers)
    assert r.status_code == 409, r.text
    assert len(await events(session, "user_changed")) == 1

    # One's own password change.
    me = {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}
    r = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "my new secret 3"},
        headers=me,
    )
    assert r.status_code == 204
    (own,) = await events(session, "password_changed")
    assert own.actor_user_id == admin.id
    for event in await session.scalars(select(AuditEvent)):
        text = json.dumps(event.details)
        assert "secret" not in text and PASSWORD not in text


async def test_customer_import_and_delete(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    boss = await make_user(session, Role.supervisor)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, boss)}"}
    csv = "name,mobile\nرضا,09121112233\nبد,12\n".encode()
    r = await client.post(
        "/api/customers/import", files={"file": ("list.csv", csv, "text/csv")}, headers=headers
    )
    assert r.status_code == 200, r.text
    (imported,) = await events(session, "customers_import")
    assert imported.actor_user_id == boss.id and imported.target == "file:list.csv"
    assert imported.details == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "failed": 1}

    customer = await make_customer(session, settings, "حذفی", ("09351112299",))
    assert (
        await client.delete(f"/api/customers/{customer.id}", headers=headers)
    ).status_code == 204
    (deleted,) = await events(session, "customer_deleted")
    assert (deleted.actor_user_id, deleted.target) == (boss.id, f"customer:{customer.id}")
    # Not found: nothing deleted, nothing audited.
    assert (await client.delete("/api/customers/999999", headers=headers)).status_code == 404
    assert len(await events(session, "customer_deleted")) == 1


async def test_history_export_records_its_filters(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await bearer(session, settings, Role.supervisor)
    r = await client.get(
        "/api/history/export.csv?from=2026-11-01&to=2026-11-30&outcome=missed&outcome=abandoned"
        "&queue=support",
        headers=headers,
    )
    assert r.status_code == 200
    (event,) = await events(session, "history_export")
    assert event.details["filters"] == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "queue": "support",
        "outcome": ["missed", "abandoned"],
        "sort": "-started_at",
    }


@pytest.fixture
def rec_conf(app: FastAPI, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    pbx = PbxSettings(
        id=PBX, host="127.0.0.1", port=1, username="u", secret=SecretStr("s"),
        token=SecretStr(UPLOAD_TOKEN),
    )  # fmt: skip
    conf = settings.model_copy(
        update={"pbxes": [pbx], "recordings_root": tmp_path / "spool", "data_dir": tmp_path}
    )
    before = app.state.settings
    app.state.settings = conf
    yield conf
    app.state.settings = before


async def test_recording_listen_and_download(
    app: FastAPI, session: AsyncSession, rec_conf: Settings, client: httpx.AsyncClient
) -> None:
    users = await team(session, rec_conf)
    await record(app, rec_conf, "01_direct_answered")
    tone(rec_conf.recordings_dir / TRACE_FILE, 1.0)
    await check(session, rec_conf)
    (recording,) = (await session.execute(select(Recording))).scalars().all()
    url = f"/api/recordings/{recording.id}/audio"
    sara, boss = users["sara"], users["boss"]
    assert (await client.get(url, headers=sara[1])).status_code == 200
    assert (await client.get(url + "?download=true", headers=boss[1])).status_code == 200
    # Seeking is not another listen; someone without access leaves no entry.
    await client.get(url, headers={**sara[1], "Range": "bytes=1000-1999"})
    assert (await client.get(url, headers=users["reza"][1])).status_code == 404

    target = f"recording:{recording.id}"
    assert [(e.actor_user_id, e.target) for e in await events(session, "recording_listen")] == [
        (sara[0].id, target)
    ]
    assert [e.actor_user_id for e in await events(session, "recording_download")] == [boss[0].id]


async def test_settings_changes_name_keys_never_values(session: AsyncSession) -> None:
    admin = await make_user(session, Role.admin)
    await AuditService(session).settings_changed(
        admin, ["wrapup_seconds", "pbxes"], address=ADDRESS
    )
    # Defence in depth: a caller passing a secret's value as a detail has it dropped.
    await AuditService(session).record(
        "settings_changed", admin, keys=["secret_key"], secret_key="s3cr3t", ami_secret="x"
    )
    first, second = await events(session, "settings_changed")
    assert first.details == {"keys": ["pbxes", "wrapup_seconds"]}
    assert second.details == {"keys": ["secret_key"]}
    with pytest.raises(ValueError, match="unknown audit action"):
        await AuditService(session).record("made_up", admin)


async def test_calls_export_from_the_command_line(
    cli_env: dict[str, str], scratch_db: Database
) -> None:
    # The command runs its own event loop: in a thread, beside this test's.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["calls", "export", "--format", "csv", "--since", "2026-11-01"],
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    assert scratch_db.sessionmaker is not None
    async with scratch_db.sessionmaker() as s:
        (event,) = await events(s, "calls_export")
    assert event.actor_name == "cli"
    assert event.details == {"since": "2026-11-01", "format": "csv"}


async def test_admins_read_the_log_with_filters_and_pages(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(session, Role.admin)
    headers = {"Authorization": f"Bearer {await make_token(session, settings, admin)}"}
    other = await make_user(session)
    audit = AuditService(session)
    for i in range(5):
        await audit.record("customer_deleted", other, target=f"customer:{i}")
    await audit.record("sign_in", admin)
    old = datetime.now(UTC) - timedelta(days=40)
    await session.execute(
        update(AuditEvent).where(AuditEvent.target == "customer:0").values(at=old)
    )

    seen: list[str] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"action": "customer_deleted", "limit": 2}
        if cursor:
            query["cursor"] = cursor
        r = await client.get("/api/audit", params=query, headers=headers)
        assert r.status_code == 200, r.text
        seen += [e["target"] for e in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"customer:{i}" for i in (4, 3, 2, 1, 0)]

    by_actor = await client.get("/api/audit", params={"actor": admin.username}, headers=headers)
    assert [e["action"] for e in by_actor.json()["items"]] == ["sign_in"]
    by_id = await client.get("/api/audit", params={"actor_id": other.id}, headers=headers)
    assert len(by_id.json()["items"]) == 5
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = await client.get(
        "/api/audit", params={"from": since, "action": "customer_deleted"}, headers=headers
    )
    assert len(recent.json()["items"]) == 4
    until = await client.get(
        "/api/audit", params={"to": since, "action": "customer_deleted"}, headers=headers
    )
    assert [e["target"] for e in until.json()["items"]] == ["customer:0"]

    for bad in ({"action": "nope"}, {"cursor": "abc"}, {"from": "2026-11-01T00:00:00"}):
        r = await client.get("/api/audit", params=bad, headers=headers)
        assert r.status_code == 422, bad
        assert r.json()["error"]["fields"][0]["field"] in ("action", "cursor", "from")

    # Retention: older entries go, newer stay; 0 keeps everything.
    assert await audit.purge(0) == 0
    assert await audit.purge(30) == 1
    assert len(await events(session, "customer_deleted")) == 4


async def test_a_start_with_other_settings_is_audited_by_key(
    settings: Settings, scratch_url: str, scratch_db: Database
) -> None:
    """Settings come from the environment: each start compares them with the last start's
    (keyed digests, never values) and audits the keys that changed."""
    pbx = PbxSettings(id="pbx1", host="127.0.0.1", port=1, username="u", secret=SecretStr("a1"))
    base = settings.model_copy(
        update={"database_url": SecretStr(scratch_url), "pbxes": [pbx], "wrapup_seconds": 0}
    )
    other_secret = pbx.model_copy(update={"secret": SecretStr("changed-ami-secret-77")})
    starts = [
        base,  # the first start: stored, nothing to compare with
        base,  # the same again: nothing changed
        base.model_copy(update={"wrapup_seconds": 30, "pbxes": [other_secret]}),
        base.model_copy(update={"wrapup_seconds": 30, "pbxes": [other_secret]}),
    ]
    seen: list[list[Any]] = []
    assert scratch_db.sessionmaker is not None
    for conf in starts:
        await _audit_settings(scratch_db, conf)  # what the lifespan runs at each start
        async with scratch_db.sessionmaker() as s:
            seen.append([e.details["keys"] for e in await events(s, "settings_changed")])
    assert seen == [[], [], [["pbxes", "wrapup_seconds"]], [["pbxes", "wrapup_seconds"]]]
    async with scratch_db.sessionmaker() as s:
        (event,) = await events(s, "settings_changed")
        stored = (await s.execute(select(SettingDigest.digest))).scalars().all()
    assert event.actor_name == "start-up" and event.actor_user_id is None
    text_of_all = json.dumps(event.details) + " ".join(stored)
    assert "changed-ami-secret-77" not in text_of_all and "30" not in json.dumps(event.details)
