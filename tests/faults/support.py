"""What the fault tests share: a PostgreSQL server of their own that they can stop and start
(the session's embedded one serves everyone else), the calls the simulated PBX really sent,
and a listener on the real socket."""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from app.db import Database
from app.models import Call, PopEvent
from telephony.handlers import BOARD_GAP, MEMBER_GAP, CallRecorder
from telephony.listener import AmiListener, Backoff, PbxConfig
from telephony.simulator import AmiSimulator

USER, SECRET = "tamas", "faults-secret"
_LINKEDID = re.compile(rb"\r\nLinkedid: ([^\r]+)")


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


# Every figure measured in this run, printed again as one JSON line at its end.
FIGURES: dict[str, Any] = {}


def figure(name: str, value: Any) -> None:
    """A measured figure, printed for BENCHMARKS.md (``pytest -s`` shows them)."""
    FIGURES[name] = value
    print(f"FIGURE {name}: {value}")


@dataclass
class OwnPostgres:
    """A PostgreSQL server started with the embedded binaries in a directory of its own,
    listening on a Unix socket only: stopping it (a real stop: every connection goes, new
    ones are refused) hurts no other test."""

    pgdata: Path
    socket_dir: str
    user: str | None
    server: Any = field(repr=False)

    @classmethod
    def create(cls, pgdata: Path) -> OwnPostgres:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            server = get_server(pgdata, cleanup_mode="stop")
        socket_dir = str(server.get_postmaster_info().socket_dir)
        server.psql("CREATE DATABASE tamas ENCODING 'UTF8' TEMPLATE template0;")
        return cls(pgdata, socket_dir, server.system_user, server)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@/tamas?host={self.socket_dir}"

    def _reachable(self) -> None:
        # pytest's temporary directories are private to root; the server runs as its own
        # user when the tests run as root (pgserver's way), and pg_ctl must reach the data.
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(self.pgdata)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        self._reachable()
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def start(self) -> None:
        from pgserver._commands import pg_ctl

        self._reachable()
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}"]
        args += ["-l", str(self.pgdata / "log"), "start"]
        pg_ctl(args, pgdata=self.pgdata, user=self.user, timeout=60)

    def close(self) -> None:
        self.server.cleanup()


class Heard:
    """The calls (linkedids) whose events the PBX wrote while a client was logged in: what
    Tamas can know of. A call that began and ended while nobody listened is counted apart."""

    def __init__(self, sim: AmiSimulator) -> None:
        self.sim = sim
        self.linkedids: set[str] = set()
        self.unheard: set[str] = set()
        self.events = 0
        sim.add_tap(self._tap)

    def _tap(self, data: bytes) -> None:
        ids = {m.decode() for m in _LINKEDID.findall(data)}
        if self.sim.clients:
            self.events += data.count(b"\r\n\r\n")
            self.linkedids |= ids
        else:
            self.unheard |= ids

    @property
    def never_heard(self) -> set[str]:
        return self.unheard - self.linkedids


def listener_for(
    sim: AmiSimulator, pbx: str, db: Database, **kwargs: Any
) -> tuple[AmiListener, CallRecorder]:
    assert db.sessionmaker is not None
    recorder = CallRecorder(db.sessionmaker)
    listener = AmiListener(
        PbxConfig(pbx, "127.0.0.1", sim.port, USER, SecretStr(SECRET)),
        recorder,
        backoff=kwargs.pop("backoff", Backoff(first=0.05, most=0.5)),
        **kwargs,
    )
    return listener, recorder


async def calls_of(db: Database, pbx: str) -> list[Call]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        rows = await session.execute(select(Call).where(Call.pbx == pbx).order_by(Call.id))
        return list(rows.scalars())


async def popped_since(db: Database, pbx: str, since: float) -> set[str]:
    """The calls (linkedids) that caused pops written from ``since`` (unix time) on."""
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(PopEvent.linkedid).where(
                PopEvent.pbx == pbx, PopEvent.created_at >= datetime.fromtimestamp(since, UTC)
            )
        )
        return set(rows.scalars())


async def connected(listener: AmiListener) -> bool:
    return listener.health.status == "connected" and listener.health.resyncs >= 1


async def all_logged(db: Database, pbx: str, heard: Heard) -> bool:
    """Every call the PBX was heard sending is stored and ended."""
    calls = await calls_of(db, pbx)
    stored = {c.linkedid for c in calls}
    return heard.linkedids <= stored and all(c.ended_at for c in calls)


async def stop(listener: AmiListener, recorder: CallRecorder) -> None:
    """Stop the listener, then let the recorder's delayed writes (queue-member states,
    wallboard notices) run out, so that none opens a connection once the test is over."""
    await listener.stop()
    await asyncio.sleep(max(MEMBER_GAP, BOARD_GAP) + 0.1)
    tasks = [t for t in (recorder._flush_task, recorder._trail_task) if t is not None]
    await asyncio.gather(*tasks, return_exceptions=True)
