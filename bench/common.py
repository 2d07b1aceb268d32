"""Helpers the benchmarks share: the service's settings on an embedded PostgreSQL, a raw
asyncpg connection of its engine, latency figures (p50/p95/p99), the event loop uvicorn would
pick and the run that prints the figures as one JSON line, and Tamas served by uvicorn in a
process of its own with a small HTTP/1.1 client for it.

Imported as the scripts' neighbour (``from common import ...``): run the benchmarks as
scripts, ``.venv/bin/python bench/NAME.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.security import new_token

# -- the database --------------------------------------------------------------------------------


class PreparedStatement(Protocol):
    async def fetch(self, *args: object) -> list[Any]: ...


class Driver(Protocol):
    """The few methods of an asyncpg connection the benchmarks use."""

    async def execute(self, query: str, *args: object) -> str: ...
    async def fetch(self, query: str, *args: object) -> list[Any]: ...
    async def fetchrow(self, query: str, *args: object) -> Any: ...
    async def fetchval(self, query: str, *args: object) -> Any: ...
    async def prepare(self, query: str) -> PreparedStatement: ...
    def transaction(self) -> Any: ...
    async def copy_to_table(
        self, table_name: str, *, source: Any, columns: Sequence[str], format: str
    ) -> str: ...


def bench_settings(pgdata: Path | None) -> tuple[Settings, Path | None]:
    """The service's settings; without ``TAMAS_DATABASE_URL``, an embedded PostgreSQL in
    ``pgdata`` or, when that is None, in a temporary folder, returned for the caller to
    remove at the end."""
    settings = Settings()
    if settings.database_url is not None:
        return settings, None
    temp_dir: Path | None = None
    if pgdata is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="tamas-bench-"))
        pgdata = temp_dir / "pgdata"
    return Settings(pgdata=pgdata), temp_dir


async def driver_of(conn: AsyncConnection) -> Driver:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return driver  # type: ignore[no-any-return]


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as uvicorn picks it for the service (``--loop auto``)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


def run_and_print(
    run: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
    loop: str,
    *,
    terminated: str | None = None,
) -> None:
    """Run the benchmark on the event loop ``--loop`` chose and print its figures as the last
    line, one JSON object. ``terminated``: the message to exit with when the run is cancelled
    (a SIGTERM handler cancels it), rather than the traceback."""
    factory = loop_factory(loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            figures = runner.run(run())
        except asyncio.CancelledError:
            if terminated is None:
                raise
            sys.exit(terminated)
    figures["event_loop"] = "asyncio" if factory is None else "uvloop"
    print(json.dumps(figures, ensure_ascii=False))


# -- figures -------------------------------------------------------------------------------------


COLUMNS = ("p50", "p95", "p99", "mean", "max")  # a row's figures, by default


@dataclass(frozen=True)
class Stats:
    """Latency percentiles in ms (inclusive method: with few samples, p99 is near the max
    rather than beyond it)."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        ms = [s / 1e6 for s in samples_ns] or [0.0, 0.0]
        if len(ms) == 1:
            ms = ms * 2
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(len(samples_ns), cuts[49], cuts[94], cuts[98], statistics.fmean(ms), max(ms))

    def row(
        self,
        label: str,
        width: int = 46,
        *,
        columns: Sequence[str] = COLUMNS,
        decimals: int = 2,
        n_width: int = 7,
    ) -> str:
        figures = " ".join(f"{getattr(self, c):8.{decimals}f}" for c in columns)
        return f"  {label:<{width}} {figures} {self.n:>{n_width},}"

    @staticmethod
    def header(
        label: str = "latency in ms",
        width: int = 46,
        *,
        columns: Sequence[str] = COLUMNS,
        n_width: int = 7,
    ) -> str:
        names = " ".join(f"{c:>8}" for c in columns)
        return f"  {label:<{width}} {names} {'n':>{n_width}}"

    def json(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}p50_ms": round(self.p50, 3),
            f"{prefix}p95_ms": round(self.p95, 3),
            f"{prefix}p99_ms": round(self.p99, 3),
            f"{prefix}max_ms": round(self.max, 3),
        }


# -- Tamas in a process of its own ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tamas_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The service's environment: production, a fresh secret key, this database (already
    migrated), nothing else of the caller's ``TAMAS_`` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMAS_")}
    return env | {
        "TAMAS_ENVIRONMENT": "production",
        "TAMAS_SECRET_KEY": new_token() + new_token(),
        "TAMAS_DATABASE_URL": database_url,
        "TAMAS_DATA_DIR": str(data_dir),
        "TAMAS_RUN_MIGRATIONS_ON_START": "false",
        **extra,
    }


@dataclass
class Child:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def ws_compression(env: Mapping[str, str]) -> bool:
    """Whether ``tamas serve`` offers permessage-deflate with this environment."""
    return env.get("TAMAS_WS_COMPRESSION", "false").strip().lower() in ("1", "true", "yes", "on")


async def start_tamas(
    env: dict[str, str], log: Path, *, access_log: bool = True, factory: str = "app.main:create_app"
) -> Child:
    """``uvicorn app.main:create_app --factory``, as ``tamas serve`` runs it (log level info,
    proxy headers), its log to a file as a service's goes to the journal; returned once
    ``/health`` answers."""
    port = free_port()
    argv = [
        "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "info", "--proxy-headers",
    ]  # fmt: skip
    if not ws_compression(env):
        argv += ["--ws-per-message-deflate", "false"]  # as tamas serve (TAMAS_WS_COMPRESSION)
    if not access_log:
        argv.append("--no-access-log")
    out = log.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdin=asyncio.subprocess.PIPE, stdout=out, stderr=out, env=env
    )
    out.close()
    child = Child(process, port, log)
    deadline = time.monotonic() + 120.0
    while True:
        with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
            status, _ = await fetch_once(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            if status == 200:
                return child
        if process.returncode is not None or time.monotonic() > deadline:
            await child.stop()
            raise RuntimeError(f"Tamas did not start:\n{child.tail()}")
        await asyncio.sleep(0.2)


# -- a plain HTTP/1.1 client ---------------------------------------------------------------------


class BadAnswer(Exception):
    pass


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if "content-length" not in headers:
        raise BadAnswer(f"no content-length: {lines[0]}")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection", "").lower() != "close"


async def fetch_once(port: int, request: bytes, within: float = 2.0) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status, body, _ = await asyncio.wait_for(read_answer(reader), within)
        return status, body
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class KeepAlive:
    """One keep-alive connection, one request at a time (as a browser tab asks the API); the
    clock runs from just before a request is written to when its whole answer is read."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes, int]:
        """Status, body and nanoseconds taken (a new connection, if the last one was closed,
        is opened before the clock starts)."""
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        raw = (head + "\r\n").encode() + data
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        started = time.perf_counter_ns()
        self.writer.write(raw)
        status, answer, keep = await asyncio.wait_for(read_answer(self.reader), self.timeout)
        took = time.perf_counter_ns() - started
        if not keep:
            await self.close()
        return status, answer, took

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@contextlib.contextmanager
def messages_to_server() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every statement asyncpg sends while the block runs, with its arguments: SQLAlchemy's
    (their BEGIN, COMMIT and a pre-ping included) and what goes to asyncpg directly
    (``app.db.HotRead``), which SQLAlchemy's cursor events do not see."""
    import asyncpg

    sent: list[tuple[str, tuple[Any, ...]]] = []
    simple, extended = asyncpg.Connection.execute, asyncpg.Connection._do_execute

    async def spy_simple(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:  # with arguments it goes on to _do_execute, counted there
            sent.append((query, ()))
        return await simple(self, query, *args, **kw)

    async def spy_extended(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        sent.append((query, ()))
        return await extended(self, query, *args, **kw)

    asyncpg.Connection.execute = spy_simple  # type: ignore[method-assign]
    asyncpg.Connection._do_execute = spy_extended  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        asyncpg.Connection.execute = simple  # type: ignore[method-assign]
        asyncpg.Connection._do_execute = extended  # type: ignore[method-assign]
