"""Screen-pop latency with N agents connected: from the moment the PBX writes the event that
makes an agent's phone ring to the moment that agent's websocket client has the pop.

    .venv/bin/python bench/pop_latency.py --agents 1000 --rate 50

Tamas runs as the service runs (``app.main:create_app`` under uvicorn: uvloop, httptools,
the websockets protocol) in a process of its own, so that the clients' work is not in its
figures. This process holds the rest: the database, a simulated PBX (``AmiSimulator``) with
one desk per agent (PJSIP/1001, PJSIP/1002, ...), and one websocket client per agent, signed
in with its own token and offering permessage-deflate as browsers do. The simulator starts
``--rate`` calls a second for ``--seconds`` (direct calls by default: each rings one desk,
picked at random among all of them) and plays each call's events at their recorded
spacing, as a real PBX sends them. A warm-up of ``--warmup-calls`` calls goes first.

The clock starts when the simulator writes the event that rings a desk (a DialBegin,
AgentCalled, or Newstate/Newchannel with ChannelState 5 for that desk's channel, whichever
comes first: the one that makes Tamas pop): the simulator's tap is called with the bytes
just before they are written to the socket. It stops when the client of that desk's agent
has the ringing ``pop`` of that call (matched by linkedid) out of its websocket. Both ends
are in this process, on one monotonic clock.

For scale, in the same run: the round trip of a bare websocket echo served by the same
stack (uvicorn, uvloop, websockets, FastAPI's WebSocket) in a third process, with a pop of
the warm-up as the message: 1,000 in a row while idle, and one per call during the burst.
Memory per idle connection: Tamas's RSS before and after the N agents connect, divided by
N. Also: Tamas's CPU while idle with N agents connected (``--idle-seconds``, one heartbeat
round), and during the burst Tamas's, PostgreSQL's and this process's CPU, the AMI
listener's backlog (``/health``), and this process's loop lag (late clients would show).

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise an
embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end). The
calls are stored under the PBX id ``bench-pops``, which must hold no calls yet; they, their
pops and the seeded agents are deleted at the end unless ``--keep``. Human-readable figures
first; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import uvicorn
import websockets
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from sqlalchemy import text

from app.config import Settings
from app.db import Database
from app.security import new_token, token_digest
from telephony.simulator import Agent, AmiSimulator
from telephony.simulator.protocol import TERMINATOR, event_name, get, parse_fields

PBX = "bench-pops"
AMI_USER, AMI_SECRET = "tamas-bench", "bench-pops-secret"
AGENT_PREFIX = "bench-pop-agent-"
FIRST_EXTENSION = 1001
DIRECT = ("direct_answered", "direct_missed", "direct_busy")
CONNECT_CONCURRENCY = 32
SETTLE = 3.0  # seconds after the last connection before Tamas's RSS is read again
DRAIN_TIMEOUT = 30.0  # seconds to wait for the last pops once every event was written
ECHO_IDLE = 1000  # idle echo round trips
LAG_TICK = 0.005  # the client loop's lag probe
BACKLOG_EVERY = 0.5  # seconds between two looks at the listener's backlog


# -- the agents ---------------------------------------------------------------------------------

SEED_AGENTS = """
WITH added AS (
    INSERT INTO users (username, full_name, role, password_hash, is_active)
    SELECT :prefix || (:first + g), 'Agent ' || (g + 1), 'agent', '!', true
    FROM generate_series(0, :n - 1) AS g
    RETURNING id, username
)
INSERT INTO user_devices (user_id, device)
SELECT id, 'PJSIP/' || substr(username, length(:prefix) + 1) FROM added
RETURNING user_id, device
"""


@dataclass(frozen=True)
class Desk:
    user_id: int
    device: str  # PJSIP/1001
    token: str


async def seed_agents(db: Database, count: int, secret_key: str) -> list[Desk]:
    """``count`` agents, each with one desk phone and a sign-in token (hashed as the service
    hashes them, with the secret key the service is given)."""
    assert db.engine is not None
    devices = [f"PJSIP/{FIRST_EXTENSION + i}" for i in range(count)]
    async with db.engine.begin() as conn:
        taken = (
            await conn.execute(
                text("SELECT count(*) FROM user_devices WHERE device = ANY(:d)"), {"d": devices}
            )
        ).scalar_one()
        calls = (
            await conn.execute(text("SELECT count(*) FROM calls WHERE pbx = :p"), {"p": PBX})
        ).scalar_one()
        if taken or calls:
            raise SystemExit(
                f"{taken} of the simulated desks are already users' devices and the PBX id "
                f"{PBX!r} holds {calls} calls: use an empty database (unset TAMAS_DATABASE_URL)"
            )
        rows = (
            await conn.execute(
                text(SEED_AGENTS), {"prefix": AGENT_PREFIX, "first": FIRST_EXTENSION, "n": count}
            )
        ).all()
        tokens = {user_id: new_token() for user_id, _ in rows}
        expires = datetime.now(UTC) + timedelta(hours=6)
        await conn.execute(
            text(
                "INSERT INTO auth_tokens (user_id, token_hash, expires_at, user_agent)"
                " VALUES (:u, :h, :e, 'bench')"
            ),
            [{"u": u, "h": token_digest(t, secret_key), "e": expires} for u, t in tokens.items()],
        )
    desks = [Desk(user_id, device, tokens[user_id]) for user_id, device in rows]
    return sorted(desks, key=lambda d: int(d.device.split("/")[1]))


async def unseed(db: Database) -> None:
    assert db.engine is not None
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM pop_events WHERE pbx = :p"), {"p": PBX})
        await conn.execute(text("DELETE FROM calls WHERE pbx = :p"), {"p": PBX})
        await conn.execute(
            text("DELETE FROM users WHERE username LIKE :p"), {"p": AGENT_PREFIX + "%"}
        )


async def pops_stored(db: Database, linkedids: Sequence[str]) -> int:
    """Ringing pops Tamas wrote for these calls."""
    assert db.engine is not None
    async with db.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pop_events WHERE pbx = :p AND kind = 'pop'"
                        " AND payload->>'state' = 'ringing' AND linkedid = ANY(:l)"
                    ),
                    {"p": PBX, "l": list(linkedids)},
                )
            ).scalar_one()
        )


# -- the servers: Tamas and the echo, each a process of its own ---------------------------------


class _Announcing(uvicorn.Server):
    """A uvicorn server that prints its port once it listens (the lifespan has run)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.servers[0].sockets[0].getsockname()[1], flush=True)


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_text(await websocket.receive_text())

    return app


def serve(kind: str) -> None:
    """The child: Tamas (its settings from the environment) or the echo, on a free loopback
    port. It stops when its parent closes its stdin (or goes away), or on SIGTERM."""

    def exit_with_parent() -> None:
        # os.read, not sys.stdin: a buffered read would hold its lock at interpreter exit.
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    app: Any = "app.main:create_app" if kind == "tamas" else echo_app()
    config = uvicorn.Config(
        app,
        factory=kind == "tamas",
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on" if kind == "tamas" else "off",
        # As tamas serve runs it (TAMAS_WS_COMPRESSION); the echo likewise, to be comparable.
        ws_per_message_deflate=os.environ.get("TAMAS_WS_COMPRESSION", "false").strip().lower()
        in ("1", "true", "yes", "on"),
    )
    _Announcing(config).run()


@dataclass
class Child:
    kind: str
    process: asyncio.subprocess.Process
    log: Path
    port: int = 0

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []


async def spawn(kind: str, env: dict[str, str], log: Path, logs: list[TextIO]) -> Child:
    out = log.open("w")
    logs.append(out)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=out,
        env=env,
    )
    child = Child(kind, process, log)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120.0)
    except TimeoutError:
        line = b""
    if not line.strip().isdigit():
        await child.stop()
        tail = "\n".join(child.log_lines()[-20:])
        raise RuntimeError(f"{kind} did not start:\n{tail}")
    child.port = int(line)
    return child


async def get_json(port: int, path: str) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(), timeout=10.0)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return json.loads(data.partition(b"\r\n\r\n")[2])


async def wait_following(port: int, within: float = 60.0) -> None:
    """Until Tamas is logged in to the PBX and has resynced (it then sees every call)."""
    deadline = time.monotonic() + within
    while True:
        pbx = (await get_json(port, "/health"))["pbxes"].get(PBX, {})
        if pbx.get("status") == "connected" and pbx.get("resyncs", 0) >= 1:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Tamas did not follow the PBX in time: {pbx}")
        await asyncio.sleep(0.1)


# -- what the processes use ---------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (those gone since are left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def postgres_pids(pgdata: Path | None) -> list[int]:
    """The embedded server's postmaster and its children (backends, writers)."""
    if pgdata is None or not (pgdata / "postmaster.pid").exists():
        return []
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(entry.name))
    return pids


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the ringing, as the simulator writes it ----------------------------------------------------


@dataclass
class Tap:
    """Every piece of the PBX's event stream with the moment it was written. Pieces are
    kept as they are and read after the run, so the tap costs the stream next to nothing."""

    phase: str = ""
    pieces: list[tuple[str, int, bytes]] = field(default_factory=list)

    def __call__(self, data: bytes) -> None:
        if self.phase:
            self.pieces.append((self.phase, time.perf_counter_ns(), data))

    def rings(self, phase: str, devices: set[str]) -> dict[tuple[str, str], int]:
        """(linkedid, device) -> when the first event that rang that desk in that call was
        written (ns, perf_counter)."""
        out: dict[tuple[str, str], int] = {}
        for piece_phase, at, data in self.pieces:
            if piece_phase != phase:
                continue
            for raw in data.split(TERMINATOR):
                name = event_name(raw)
                if name in (b"DialBegin", b"AgentCalled"):
                    fields = parse_fields(raw)
                    channel = get(fields, "DestChannel")
                    linkedid = get(fields, "DestLinkedid") or get(fields, "Linkedid")
                elif name in (b"Newstate", b"Newchannel") and b"\r\nChannelState: 5\r\n" in raw:
                    fields = parse_fields(raw)
                    channel, linkedid = get(fields, "Channel"), get(fields, "Linkedid")
                else:
                    continue
                device = channel.rpartition("-")[0]
                if device in devices:
                    out.setdefault((linkedid, device), at)
        return out


# -- the clients --------------------------------------------------------------------------------


class AgentClient:
    """One agent's panel: signs in, answers pings, notes when each call's pop arrives."""

    def __init__(self, desk: Desk, url: str, compression: str | None) -> None:
        self.desk = desk
        self.url = url
        self.compression = compression
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.first_pop: dict[str, int] = {}  # linkedid -> when its ringing pop arrived (ns)
        self.pop_bytes: list[int] = []
        self.sample: str | None = None  # a pop as it came, for the echo
        self.kinds: Counter[str] = Counter()
        self.seq = 0
        self.out_of_order = 0
        self.closed_code: int | None = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            compression=self.compression,
            ping_interval=None,  # as a browser: it answers the server's pings, sends none
            max_size=None,
            open_timeout=30,
        )
        await self.ws.send(json.dumps({"type": "auth", "token": self.desk.token, "last_seq": None}))
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=30.0))
        if hello.get("type") != "hello":
            raise RuntimeError(f"{self.desk.device}: expected hello, got {hello}")
        self.seq = int(hello["seq"])
        self.task = asyncio.create_task(self._read(), name=f"client {self.desk.device}")

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                at = time.perf_counter_ns()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await self.ws.send('{"type": "pong"}')
                    continue
                self.kinds[kind] += 1
                seq = message.get("seq")
                if isinstance(seq, int):
                    if seq <= self.seq:
                        self.out_of_order += 1
                    self.seq = max(self.seq, seq)
                if kind == "pop" and message.get("state") == "ringing":
                    linkedid = message.get("linkedid", "")
                    if message.get("pbx") == PBX and linkedid not in self.first_pop:
                        self.first_pop[linkedid] = at
                        self.pop_bytes.append(len(raw))
                        self.sample = self.sample or str(raw)
        except websockets.ConnectionClosed:
            pass
        self.closed_code = self.ws.close_code

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task


async def connect_all(clients: Sequence[AgentClient]) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(client: AgentClient) -> None:
        async with gate:
            await client.connect()

    await asyncio.gather(*(one(c) for c in clients))


async def close_all(clients: Sequence[AgentClient]) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY * 4)

    async def one(client: AgentClient) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), timeout=10.0)

    await asyncio.gather(*(one(c) for c in clients))


async def echo_round_trips(
    ws: Any, payload: str, *, count: int, interval: float = 0.0, stop: asyncio.Event | None = None
) -> list[int]:
    """Round trips of ``payload``, one after the other, or one every ``interval`` seconds
    until ``stop`` is set (at most ``count``)."""
    samples: list[int] = []
    next_at = time.perf_counter()
    for _ in range(count):
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter_ns()
        await ws.send(payload)
        if await ws.recv() != payload:
            raise RuntimeError("the echo sent back something else")
        samples.append(time.perf_counter_ns() - started)
        if interval:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return samples


async def loop_lag(stop: asyncio.Event, samples: list[int]) -> None:
    """How late this process's loop wakes up: if the clients are late reading their pops,
    it shows here."""
    while not stop.is_set():
        started = time.perf_counter_ns()
        await asyncio.sleep(LAG_TICK)
        samples.append(time.perf_counter_ns() - started - int(LAG_TICK * 1e9))


# -- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        if len(samples_ns) < 2:
            ms = [s / 1e6 for s in samples_ns] or [0.0]
            return cls(len(samples_ns), ms[0], ms[0], ms[0], ms[0], ms[0])
        ms = [s / 1e6 for s in samples_ns]
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(len(ms), cuts[49], cuts[94], cuts[98], statistics.fmean(ms), max(ms))

    def row(self, label: str) -> str:
        figures = " ".join(f"{v:8.2f}" for v in (self.p50, self.p95, self.p99, self.mean, self.max))
        return f"  {label:<44} {figures} {self.n:>7,}"


async def run_calls(
    sim: AmiSimulator,
    tap: Tap,
    phase: str,
    args: argparse.Namespace,
    count: int,
    seed: int,
) -> float:
    """``count`` calls at ``args.rate`` a second, until every event of theirs was written."""
    tap.phase = phase
    started = time.perf_counter()
    traffic = sim.generate(
        args.rate,
        speed=1.0,
        count=count,
        scenarios=args.scenarios,
        seed=seed,
    )
    try:
        await asyncio.wait_for(traffic.wait(), timeout=count / args.rate + 120.0)
    finally:
        await traffic.stop()
        tap.phase = ""
    return time.perf_counter() - started


async def wait_pops(
    clients: Sequence[AgentClient], rings: dict[tuple[str, str], int], within: float
) -> bool:
    by_device = {c.desk.device: c for c in clients}

    def missing() -> int:
        return sum(1 for lid, dev in rings if lid not in by_device[dev].first_pop)

    deadline = time.monotonic() + within
    while missing():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def sample_backlog(port: int, stop: asyncio.Event, samples: list[int]) -> None:
    """The listener's queue (events read, not yet handled), as ``/health`` shows it."""
    while not stop.is_set():
        with contextlib.suppress(OSError, ValueError, TimeoutError):
            pbx = (await get_json(port, "/health"))["pbxes"].get(PBX, {})
            samples.append(int(pbx.get("backlog", 0)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BACKLOG_EVERY)


@dataclass
class Cpu:
    """CPU seconds of Tamas, PostgreSQL (every backend, also those started meanwhile) and
    this process since ``start()``."""

    tamas_pid: int
    pgdata: Path | None
    _tamas: float = 0.0
    _postgres: dict[int, float] = field(default_factory=dict)
    _own: float = 0.0

    def _postgres_now(self) -> dict[int, float]:
        return {pid: cpu_seconds([pid]) for pid in postgres_pids(self.pgdata)}

    def start(self) -> None:
        self._tamas = cpu_seconds([self.tamas_pid])
        self._postgres = self._postgres_now()
        self._own = own_cpu()

    def since(self) -> tuple[float, float | None, float]:
        now = self._postgres_now()
        postgres = sum(c - self._postgres.get(pid, 0.0) for pid, c in now.items())
        return (
            cpu_seconds([self.tamas_pid]) - self._tamas,
            postgres if now else None,
            own_cpu() - self._own,
        )


async def start_profiler(out: Path | None, pid: int) -> asyncio.subprocess.Process | None:
    """py-spy sampling Tamas until ``stop_profiler`` (its own CPU is not Tamas's: it reads
    the process's memory from outside)."""
    if out is None:
        return None
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    process = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "-p",
        str(pid),
        "-o",
        str(out),
        "--format",
        "raw",
        "-r",
        "200",
        # Sampled without stopping Tamas: stopped 200 times a second, it falls behind, its
        # batches grow and the profile shows another regime than the measured one.
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached before the first call
    return process


async def stop_profiler(process: asyncio.subprocess.Process | None) -> None:
    if process is None:
        return
    process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    await process.wait()


def by_second(timeline: Sequence[tuple[float, int]]) -> str:
    """Latency per second of the burst, when the ring was written: stalls show here."""
    seconds: dict[int, list[int]] = {}
    for at, ns in timeline:
        seconds.setdefault(int(at), []).append(ns)
    return " ".join(
        f"{s}s {statistics.median(v) / 1e6:.0f}/{max(v) / 1e6:.0f}"
        for s, v in sorted(seconds.items())
    )


@dataclass
class Servers:
    sim: AmiSimulator
    tap: Tap
    tamas: Child
    echo: Child
    desks: list[Desk]


@asynccontextmanager
async def servers(args: argparse.Namespace, db: Database, temp: Path) -> AsyncIterator[Servers]:
    """The simulated PBX with one desk per agent, Tamas following it, and the echo."""
    secret_key = new_token() + new_token()
    print(f"seeding {args.agents:,} agents with a desk phone and a token each ...", flush=True)
    desks = await seed_agents(db, args.agents, secret_key)
    tap = Tap()
    sim = AmiSimulator(
        username=AMI_USER,
        secret=AMI_SECRET,
        seed=args.seed,
        agents=[Agent(d.device.split("/")[1], f"Agent {i + 1}") for i, d in enumerate(desks)],
    )
    sim.add_tap(tap)
    logs: list[TextIO] = []
    children: list[Child] = []
    try:
        await sim.start()
        pbx = {
            "id": PBX,
            "host": "127.0.0.1",
            "port": sim.port,
            "username": AMI_USER,
            "secret": AMI_SECRET,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAMAS_")}
        env |= {
            "TAMAS_ENVIRONMENT": "production",
            "TAMAS_SECRET_KEY": secret_key,
            "TAMAS_DATABASE_URL": db.url,
            "TAMAS_DATA_DIR": str(temp / "tamas"),
            "TAMAS_RUN_MIGRATIONS_ON_START": "false",
            "TAMAS_DEFAULT_REGION": "IR",
            "TAMAS_PBXES": json.dumps([pbx]),
        }
        print("starting Tamas and the echo server ...", flush=True)
        children.append(await spawn("tamas", env, temp / "tamas.log", logs))
        children.append(await spawn("echo", env, temp / "echo.log", logs))
        await wait_following(children[0].port)
        yield Servers(sim, tap, children[0], children[1], desks)
    finally:
        for child in reversed(children):
            await child.stop()
        for out in logs:
            out.close()
        await sim.stop()


@dataclass
class Connected:
    clients: list[AgentClient]
    seconds: float
    rss_before: int
    rss_after: int


async def connect_agents(args: argparse.Namespace, run: Servers) -> Connected:
    """Every agent connected; Tamas's RSS before and after."""
    url = f"ws://127.0.0.1:{run.tamas.port}/ws/pops"
    # A few connections first, so that what the first ones load (imports, statement
    # caches) is not counted as the cost of a connection.
    warm = [AgentClient(d, url, args.compression) for d in run.desks[:16]]
    await connect_all(warm)
    await close_all(warm)
    await asyncio.sleep(1.0)
    rss_before = rss_bytes(run.tamas.process.pid)
    clients = [AgentClient(d, url, args.compression) for d in run.desks]
    print(f"connecting {len(clients):,} agents ...", flush=True)
    started = time.perf_counter()
    try:
        await connect_all(clients)
    except BaseException:
        await close_all(clients)
        raise
    seconds = time.perf_counter() - started
    await asyncio.sleep(SETTLE)
    rss_after = rss_bytes(run.tamas.process.pid)
    print(
        f"  connected in {seconds:.1f} s; Tamas RSS {rss_before / 2**20:.1f} MB ->"
        f" {rss_after / 2**20:.1f} MB: {(rss_after - rss_before) / len(clients) / 1024:.1f} KiB"
        " per idle connection",
        flush=True,
    )
    return Connected(clients, seconds, rss_before, rss_after)


@dataclass
class Idle:
    echo: Stats
    cpu_tamas: float
    seconds: float


async def idle_window(args: argparse.Namespace, run: Servers, echo_ws: Any, payload: str) -> Idle:
    """What Tamas costs with every agent connected and no call (heartbeats only), and the
    echo's round trip on a machine at rest."""
    print(f"idle: {args.idle_seconds:g} s with every agent connected ...", flush=True)
    cpu = Cpu(run.tamas.process.pid, None)
    cpu.start()
    started = time.perf_counter()
    await echo_round_trips(echo_ws, payload, count=100)
    echo = Stats.of(await echo_round_trips(echo_ws, payload, count=ECHO_IDLE))
    await asyncio.sleep(max(0.0, args.idle_seconds - (time.perf_counter() - started)))
    seconds = time.perf_counter() - started
    return Idle(echo, cpu.since()[0], seconds)


@dataclass
class Burst:
    latencies: list[int]
    timeline: list[tuple[float, int]]  # (seconds into the burst, latency in ns) per pop
    rings: int
    stored: int
    drained: bool
    echo: Stats
    lag: Stats
    backlog_max: int
    seconds: float
    cpu: tuple[float, float | None, float]
    load: float


async def burst(
    args: argparse.Namespace,
    db: Database,
    pgdata: Path | None,
    run: Servers,
    clients: Sequence[AgentClient],
    echo_ws: Any,
    payload: str,
) -> Burst:
    """The measured calls, with the echo and the probes running alongside."""
    load = os.getloadavg()[0]
    print(
        f"burst: {args.calls:,} calls at {args.rate:g}/s (load average {load:.2f}) ...",
        flush=True,
    )
    for c in clients:
        c.first_pop.clear()
    cpu = Cpu(run.tamas.process.pid, pgdata)
    profiler = await start_profiler(args.profile, run.tamas.process.pid)
    cpu.start()
    stop = asyncio.Event()
    lag: list[int] = []
    backlog: list[int] = []
    probes = [
        asyncio.create_task(loop_lag(stop, lag)),
        asyncio.create_task(sample_backlog(run.tamas.port, stop, backlog)),
    ]
    echo_task = asyncio.create_task(
        echo_round_trips(echo_ws, payload, count=10**7, interval=1.0 / args.rate, stop=stop)
    )
    try:
        seconds = await run_calls(run.sim, run.tap, "burst", args, args.calls, args.seed)
        rings = run.tap.rings("burst", {d.device for d in run.desks})
        drained = await wait_pops(clients, rings, DRAIN_TIMEOUT)
    finally:
        stop.set()
        echo_samples = await echo_task
        await asyncio.gather(*probes)
    used = cpu.since()
    await stop_profiler(profiler)
    by_device = {c.desk.device: c for c in clients}
    latencies = [
        by_device[dev].first_pop[lid] - at
        for (lid, dev), at in rings.items()
        if lid in by_device[dev].first_pop
    ]
    first = min(rings.values(), default=0)
    timeline = [
        ((at - first) / 1e9, by_device[dev].first_pop[lid] - at)
        for (lid, dev), at in rings.items()
        if lid in by_device[dev].first_pop
    ]
    stored = await pops_stored(db, sorted({lid for lid, _ in rings}))
    return Burst(
        latencies,
        timeline,
        len(rings),
        stored,
        drained,
        Stats.of(echo_samples),
        Stats.of(lag),
        max(backlog, default=0),
        seconds,
        used,
        load,
    )


@dataclass
class Measured:
    connected: Connected
    idle: Idle
    burst: Burst
    rss_end: int
    kinds: Counter[str]  # messages the clients received, by type
    out_of_order: int
    closed_early: int
    pop_bytes: list[int]
    tamas_log: list[str]


async def measure(
    args: argparse.Namespace, db: Database, pgdata: Path | None, temp: Path
) -> Measured:
    async with servers(args, db, temp) as run:
        connected = await connect_agents(args, run)
        clients = connected.clients
        echo_ws: Any = None
        try:
            print(f"warm-up: {args.warmup_calls} calls at {args.rate:g}/s ...", flush=True)
            await run_calls(run.sim, run.tap, "warmup", args, args.warmup_calls, args.seed + 1)
            warm_rings = run.tap.rings("warmup", {d.device for d in run.desks})
            await wait_pops(clients, warm_rings, DRAIN_TIMEOUT)
            # The echo's message: a pop of the warm-up, as it came.
            payload = next((c.sample for c in clients if c.sample), '{"type": "pop"}')
            echo_ws = await websockets.connect(
                f"ws://127.0.0.1:{run.echo.port}/echo",
                compression=args.compression,
                max_size=None,
            )
            idle = await idle_window(args, run, echo_ws, payload)
            result = await burst(args, db, pgdata, run, clients, echo_ws, payload)
            rss_end = rss_bytes(run.tamas.process.pid)
            kinds: Counter[str] = Counter()
            for c in clients:
                kinds.update(c.kinds)
            out_of_order = sum(c.out_of_order for c in clients)
            closed_early = sum(1 for c in clients if c.task is not None and c.task.done())
            pop_bytes = [n for c in clients for n in c.pop_bytes]
            # Tamas logs at warning level: whatever it wrote is a warning or an error.
            tamas_log = [line for line in run.tamas.log_lines() if line.strip()]
        finally:
            if echo_ws is not None:
                with contextlib.suppress(Exception):
                    await echo_ws.close()
            await close_all(clients)
    return Measured(
        connected, idle, result, rss_end, kinds, out_of_order, closed_early, pop_bytes, tamas_log
    )


def report(args: argparse.Namespace, m: Measured) -> dict[str, Any]:
    """Print the figures; return those of the JSON line."""
    result = m.burst
    pops = Stats.of(result.latencies)
    cpu_tamas, cpu_postgres, cpu_bench = result.cpu
    per_conn = (m.connected.rss_after - m.connected.rss_before) / args.agents
    print(f"\n  {'ms':<44} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8} {'max':>8} {'n':>7}")
    print(pops.row("ring written -> pop in the agent's client"))
    print(result.echo.row("bare websocket echo round trip, during burst"))
    print(m.idle.echo.row("bare websocket echo round trip, idle"))
    print(result.lag.row("client process loop lag (5 ms ticks)"))
    print(
        f"\n  pops: {result.rings:,} rings written, {len(result.latencies):,} pops received,"
        f" {result.stored:,} stored; {m.out_of_order} out of order; {m.closed_early} clients"
        f" closed early; messages {dict(m.kinds)}; a pop is"
        f" {statistics.fmean(m.pop_bytes or [0]):,.0f} bytes on average"
    )
    pg = "n/a" if cpu_postgres is None else f"{cpu_postgres:.1f}"
    print(
        f"  burst: {result.seconds:.1f} s until the last call's last event; listener backlog"
        f" up to {result.backlog_max:,} events; CPU seconds: Tamas {cpu_tamas:.1f},"
        f" PostgreSQL {pg}, this process {cpu_bench:.1f}"
    )
    print(
        f"  idle: Tamas used {100 * m.idle.cpu_tamas / m.idle.seconds:.1f} % of a core with"
        f" {args.agents:,} agents connected and no calls"
    )
    print(
        f"  Tamas RSS: {m.connected.rss_before / 2**20:.1f} MB,"
        f" {m.connected.rss_after / 2**20:.1f} MB with {args.agents:,} idle agents"
        f" ({per_conn / 1024:.1f} KiB each),"
        f" {m.rss_end / 2**20:.1f} MB after the burst"
    )
    print(f"  latency by second of the burst (p50/max ms): {by_second(result.timeline)}")
    if m.tamas_log:
        print(f"  Tamas logged {len(m.tamas_log)} lines, the first: {m.tamas_log[0][:200]}")
    return {
        "agents": args.agents,
        "rate": args.rate,
        "calls": args.calls,
        "scenarios": args.scenarios,
        "p50_ms": round(pops.p50, 2),
        "p95_ms": round(pops.p95, 2),
        "p99_ms": round(pops.p99, 2),
        "mean_ms": round(pops.mean, 2),
        "max_ms": round(pops.max, 2),
        "echo_p50_ms": round(result.echo.p50, 3),
        "echo_p99_ms": round(result.echo.p99, 3),
        "echo_idle_p50_ms": round(m.idle.echo.p50, 3),
        "echo_idle_p99_ms": round(m.idle.echo.p99, 3),
        "bytes_per_idle_conn": round(per_conn),
        "rss_idle_mb": round(m.connected.rss_before / 2**20, 1),
        "rss_connected_mb": round(m.connected.rss_after / 2**20, 1),
        "rss_after_burst_mb": round(m.rss_end / 2**20, 1),
        "connect_seconds": round(m.connected.seconds, 1),
        "pops_sent": result.rings,
        "pops_received": len(result.latencies),
        "pops_stored": result.stored,
        "drained": result.drained,
        "out_of_order": m.out_of_order,
        "closed_early": m.closed_early,
        "messages": dict(m.kinds),
        "pop_bytes_mean": round(statistics.fmean(m.pop_bytes or [0])),
        "burst_seconds": round(result.seconds, 1),
        "backlog_max": result.backlog_max,
        "cpu_tamas_s": round(cpu_tamas, 1),
        "cpu_postgres_s": None if cpu_postgres is None else round(cpu_postgres, 1),
        "cpu_bench_s": round(cpu_bench, 1),
        "idle_cpu_tamas_pct": round(100 * m.idle.cpu_tamas / m.idle.seconds, 1),
        "client_lag_p99_ms": round(result.lag.p99, 2),
        "tamas_warnings": len(m.tamas_log),
        "load_average": round(result.load, 2),
        "compression": args.compression or "none",
    }


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000, metavar="N")
    parser.add_argument("--rate", type=float, default=50.0, metavar="R", help="calls per second")
    parser.add_argument(
        "--seconds", type=float, default=20.0, metavar="S", help="how long new calls start"
    )
    parser.add_argument("--calls", type=int, default=None, help="calls in all (default R x S)")
    parser.add_argument("--warmup-calls", type=int, default=100, metavar="W")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=16.0,
        help="how long Tamas's idle CPU is measured (a heartbeat is every 15 s)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(DIRECT),
        help="simulator scenarios, comma-separated (default: the direct calls)",
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="permessage-deflate offered by the clients, as browsers do (default)",
    )
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the agents, calls and pops")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE",
        help="sample Tamas with py-spy during the burst (200 Hz) into FILE, collapsed stacks"
        " (py-spy's raw format: feed it to a flame graph tool)",
    )
    parser.add_argument("--serve", choices=("tamas", "echo"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return args
    if args.agents < 1 or args.rate <= 0 or args.seconds <= 0 or args.warmup_calls < 1:
        parser.error("--agents, --rate, --seconds and --warmup-calls must be positive")
    args.calls = args.calls if args.calls is not None else max(1, round(args.rate * args.seconds))
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    args.compression = None if args.compression == "none" else args.compression
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="tamas-bench-pops-"))
    settings = Settings()
    pgdata: Path | None = None
    if settings.database_url is None:
        pgdata = args.pgdata or temp / "pgdata"
        settings = Settings(pgdata=pgdata)
    db = Database(settings)
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.engine is not None
        async with db.engine.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        try:
            figures = report(args, await measure(args, db, pgdata, temp))
        finally:
            if not args.keep:
                await unseed(db)
    finally:
        await db.close()
        shutil.rmtree(temp, ignore_errors=True)
    return figures | {
        "postgres": version,
        "python": sys.version.split()[0],
        "peak_rss_bench_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


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


def main() -> None:
    args = parse_args()
    if args.serve:
        serve(args.serve)
        return
    factory = loop_factory(args.loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        figures = runner.run(run(args))
    figures["event_loop"] = "asyncio" if factory is None else "uvloop"
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
