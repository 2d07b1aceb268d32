"""Size limits: JSON bodies (TAMAS_MAX_REQUEST_BYTES), the customer CSV import
(TAMAS_IMPORT_MAX_BYTES, plus the importer's own bounds) and the PBX's recording upload
(TAMAS_RECORDING_UPLOAD_MAX_MB). Each: declared too big (refused before a byte is read),
streamed too big without a Content-Length, and exactly at the limit (accepted)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.customers.endpoints import MAX_REPORTED_ERRORS
from app.customers.importer import MAX_COLUMNS, MAX_HEADER_CHARS
from app.models import Customer, Role
from tests.fixtures.factories import auth_headers
from tests.fixtures.pbx import pbx_calling_with

JSON_LIMIT = 4096
IMPORT_LIMIT = 64 * 1024
PBX, PBX_TOKEN = "lim", "pbx-token-for-the-limit-tests"


@pytest.fixture
def small(app: FastAPI, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The running app with small limits (it reads its settings per request)."""
    pbx = pbx_calling_with(PBX, PBX_TOKEN)
    conf = settings.model_copy(
        update={
            "max_request_bytes": JSON_LIMIT,
            "import_max_bytes": IMPORT_LIMIT,
            "recording_upload_max_mb": 1,
            "pbxes": [pbx],
            "recordings_root": tmp_path / "spool",
            "data_dir": tmp_path,
        }
    )
    before = app.state.settings
    app.state.settings = conf
    yield conf
    app.state.settings = before


class Body:
    """A request body streamed in chunks (no Content-Length), counting what was read."""

    def __init__(self, data: bytes, chunk: int = 1024) -> None:
        self.data, self.chunk, self.read = data, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            piece = self.data[start : start + self.chunk]
            self.read += len(piece)
            yield piece


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"]["code"] == "too_large"
    assert "larger than the limit" in body["error"]["message"]
    assert body["error"]["fields"] == []


def customer_json(size: int) -> bytes:
    """A valid new customer, padded with spaces to exactly ``size`` bytes."""
    data = json.dumps({"name": "نگار احمدی", "notes": "x"}, ensure_ascii=False).encode()
    return data + b" " * (size - len(data))


async def customers(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Customer))).scalar_one())


# --- JSON endpoints --------------------------------------------------------------------------


async def test_a_json_body_declared_too_big_is_refused_before_it_is_read(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = {**await auth_headers(session, small), "Content-Type": "application/json"}
    body = Body(customer_json(10 * JSON_LIMIT))
    headers["Content-Length"] = str(len(body.data))
    r = await client.post("/api/customers", content=body, headers=headers)
    assert_too_large(r)
    assert body.read == 0
    assert r.headers["connection"] == "close"


async def test_a_json_body_streamed_past_the_limit_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = {**await auth_headers(session, small), "Content-Type": "application/json"}
    before = await customers(session)
    body = Body(customer_json(100 * JSON_LIMIT))
    r = await client.post("/api/customers", content=body, headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_too_large(r)
    # Reading stopped at the limit (give or take the chunk that passed it).
    assert body.read <= JSON_LIMIT + body.chunk
    assert await customers(session) == before


async def test_a_json_body_exactly_at_the_limit_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = {**await auth_headers(session, small), "Content-Type": "application/json"}
    exact = customer_json(JSON_LIMIT)
    r = await client.post("/api/customers", content=exact, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post("/api/customers", content=Body(exact), headers=headers)
    assert r.status_code == 201, r.text
    assert_too_large(await client.post("/api/customers", content=exact + b" ", headers=headers))
    assert_too_large(
        await client.post("/api/customers", content=Body(exact + b" "), headers=headers)
    )


async def test_the_default_limits(settings: Settings) -> None:
    assert settings.max_request_bytes == 1 << 20
    assert settings.import_max_bytes == 50 << 20


# --- the customer CSV import ---------------------------------------------------------------

BOUNDARY = "tamas-limit-test"


def multipart(csv: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="customers.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def import_body(size: int) -> bytes:
    """A whole multipart upload of exactly ``size`` bytes: two customers, then blank lines
    (skipped by the importer) as padding."""
    csv = "name,mobile\r\nعلی رضایی,09121234567\r\nمریم حسینی,09351234567\r\n".encode()
    empty = len(multipart(csv))
    return multipart(csv + b"\r\n" * ((size - empty) // 2) + b"\n" * ((size - empty) % 2))


async def post_import(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes | Body
) -> httpx.Response:
    return await client.post(
        "/api/customers/import",
        content=content,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


async def test_an_import_declared_too_big_is_refused_before_it_is_read(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = await auth_headers(session, small, Role.supervisor)
    body = Body(import_body(5 * IMPORT_LIMIT))
    r = await post_import(client, {**headers, "Content-Length": str(len(body.data))}, body)
    assert_too_large(r)
    assert "64 KiB" in r.json()["error"]["message"]
    assert body.read == 0


async def test_an_import_streamed_past_the_limit_is_refused_and_imports_nothing(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = await auth_headers(session, small, Role.supervisor)
    before = await customers(session)
    body = Body(import_body(20 * IMPORT_LIMIT), chunk=8192)
    assert_too_large(await post_import(client, headers, body))
    assert body.read <= IMPORT_LIMIT + body.chunk
    assert await customers(session) == before


async def test_an_import_exactly_at_the_limit_is_imported(
    client: httpx.AsyncClient, session: AsyncSession, small: Settings
) -> None:
    headers = await auth_headers(session, small, Role.supervisor)
    exact = import_body(IMPORT_LIMIT)
    assert len(exact) == IMPORT_LIMIT
    r = await post_import(client, headers, Body(exact, chunk=8192))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2 and r.json()["failed"] == 0
    assert_too_large(await post_import(client, headers, import_body(IMPORT_LIMIT + 1)))


async def test_an_import_whose_first_line_never_ends_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await auth_headers(session, settings, Role.supervisor)
    r = await post_import(client, headers, multipart(b"name" + b"x" * (2 * MAX_HEADER_CHARS)))
    assert r.status_code == 422, r.text
    assert "longer than" in r.json()["error"]["message"]
    assert r.json()["error"]["fields"][0]["field"] == "file"


async def test_an_import_with_too_many_columns_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await auth_headers(session, settings, Role.supervisor)
    header = ",".join(["name", *(f"c{i}" for i in range(MAX_COLUMNS))]).encode()
    r = await post_import(client, headers, multipart(header + "\r\nعلی,1\r\n".encode()))
    assert r.status_code == 422, r.text
    assert f"at most {MAX_COLUMNS}" in r.json()["error"]["message"]
    # One fewer is fine.
    header = ",".join(["name", *(f"c{i}" for i in range(MAX_COLUMNS - 1))]).encode()
    r = await post_import(client, headers, multipart(header + "\r\nعلی,1\r\n".encode()))
    assert r.status_code == 200, r.text


async def test_a_file_of_bad_rows_counts_them_all_and_lists_the_first_thousand(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await auth_headers(session, settings, Role.supervisor)
    bad = 2 * MAX_REPORTED_ERRORS + 321
    rows = b"".join(b",not a number %d\r\n" % i for i in range(bad))
    r = await post_import(client, headers, multipart(b"name,mobile\r\n" + rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["failed"] == bad and report["created"] == 0
    assert len(report["errors"]) == MAX_REPORTED_ERRORS
    assert [e["line"] for e in report["errors"]] == list(range(2, MAX_REPORTED_ERRORS + 2))


# --- the PBX's recording upload ------------------------------------------------------------


def recording_url(name: str) -> str:
    return f"/pbx/recordings?pbx={PBX}&name={name}"


BEARER = {"Authorization": f"Bearer {PBX_TOKEN}"}
MIB = 1024 * 1024


async def test_a_recording_declared_too_big_is_refused_before_it_is_read(
    client: httpx.AsyncClient, small: Settings
) -> None:
    body = Body(b"\0" * (3 * MIB), chunk=64 * 1024)
    r = await client.post(
        recording_url("big.wav"),
        content=body,
        headers={**BEARER, "Content-Length": str(len(body.data))},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "too_large"
    assert body.read == 0
    assert not (small.recordings_dir / "big.wav").exists()


async def test_a_recording_streamed_past_the_limit_is_refused_and_not_kept(
    client: httpx.AsyncClient, small: Settings
) -> None:
    body = Body(b"\0" * (3 * MIB), chunk=64 * 1024)
    r = await client.post(recording_url("big.wav"), content=body, headers=BEARER)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "too_large"
    assert body.read <= MIB + body.chunk
    assert not (small.recordings_dir / "big.wav").exists()
    leftovers = [p for p in small.recordings_dir.rglob("*") if p.is_file()]
    assert leftovers == []


async def test_a_recording_exactly_at_the_limit_is_stored(
    client: httpx.AsyncClient, small: Settings
) -> None:
    r = await client.post(
        recording_url("exact.wav"), content=Body(b"\1" * MIB, chunk=64 * 1024), headers=BEARER
    )
    assert r.status_code == 201, r.text
    assert (small.recordings_dir / "exact.wav").stat().st_size == MIB
