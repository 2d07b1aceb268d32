"""AMI ingest end to end: the PBX simulator sends synthetic calls over a real socket, and the
listener frames, parses, tracks and stores them (``CallRecorder``: calls, legs, customer
links and screen-pops, one transaction per batch) in PostgreSQL. How many events a second
that sustains, how far behind it falls, and whether every event and every call arrived.

    .venv/bin/python bench/ingest.py --seconds 30 --rate 10

The simulator runs in a process of its own, as a PBX is another machine. Two ways to drive it:

- ``--pace max`` (default): ``AmiSimulator.generate(rate, realtime=False)`` sends the calls in
  the order real time would give them, as fast as the socket takes them, and the socket takes
  them as fast as the listener gets through them: when more than ``--high-water`` events wait
  in the listener's queue, the benchmark pauses reading the socket until the consumer is below
  half of that (TCP then holds the simulator back). Without that (``--high-water 0``) the
  listener reads far faster than it stores, and the queue only grows. ``--rate`` is calls per
  second on the PBX's clock: it sets how many calls are up at once (rate x the mean call
  length, about 9 s), not the load, which is whatever the listener sustains.
- ``--pace real``: calls start at ``--rate`` per second of wall-clock time and their events go
  out at their recorded spacing, as a real PBX sends them; nothing holds the PBX back, so the
  backlog and the latency say whether the listener keeps up with that load.

After ``--seconds`` no new call starts, the calls under way send their last events, and the
run waits until the listener has committed everything. Every agent desk of the simulated PBX
(``--agents``, extensions 1001 on) is mapped to a user, so calls are linked to agents and
screen-pops are written, as in a deployment; ``--store calls`` leaves the pops out and
``--store nothing`` the database, to show what each part costs.

What is counted: ``events_sent`` is the simulator's count of events written to the socket;
``events_persisted_or_skipped`` the events the listener took off its queue and whose batch was
then committed (including the events the tracker does not follow); ``lost`` the difference.
Latency runs from the socket read that completed an event to the commit of its batch. Then
the database is checked: one call stored per call started (plus the consultation call each
attended transfer makes), every call ended, no leg twice, and each scenario's direction and
outcome as the recordings' ``expected.json`` gives them.

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise an
embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end). The
calls are stored under the PBX id ``bench-ingest``, which must hold no calls yet; they, their
pops and the seeded agent users are deleted at the end unless ``--keep``. Human-readable
figures first; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from common import Stats, bench_settings, loop_factory, run_and_print
from pydantic import SecretStr
from sqlalchemy import text

from app import collector
from app.config import Settings
from app.db import Database
from telephony.framing import Message
from telephony.handlers import CallRecorder
from telephony.listener import AmiListener, PbxConfig
from telephony.model import CallEvent, Extras
from telephony.tracker import CallTracker

PBX = "bench-ingest"
USER, SECRET = "tamas-bench", "bench-secret-0123"
AGENT_PREFIX = "bench-agent-"
SAMPLE_EVERY = 0.1  # seconds between backlog samples
STALL = 60.0  # give up when the listener has taken no event for this many seconds


# -- the PBX: a simulator in a process of its own ------------------------------------------------


@dataclass(frozen=True)
class PbxOptions:
    rate: float
    pace: str  # max | real
    agents: int
    seed: int


def _simulator_process(conn: Connection, options: PbxOptions) -> None:
    """The child: a simulator on loopback that starts generating on "go" and stops starting
    calls on "finish", then reports what it sent."""
    logging.basicConfig(level=logging.WARNING, format="simulator: %(levelname)s %(message)s")
    with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:
        runner.run(_serve(conn, options))


async def _serve(conn: Connection, options: PbxOptions) -> None:
    from telephony.simulator import Agent, AmiSimulator

    loop = asyncio.get_running_loop()

    async def command() -> str:
        return str(await loop.run_in_executor(None, conn.recv))

    desks = [Agent(str(1001 + i), f"Agent {i + 1}") for i in range(options.agents)]
    async with AmiSimulator(username=USER, secret=SECRET, seed=options.seed, agents=desks) as sim:
        conn.send(("port", sim.port))
        if await command() != "go":
            return
        cpu_at_go = _own_cpu()
        traffic = sim.generate(
            options.rate, realtime=options.pace == "real", speed=1.0, seed=options.seed
        )
        # Which scenario each call played, to know what the database should hold; counted
        # on the way out of the call factory, so nothing is kept and the stream is the same.
        scenarios: Counter[str] = Counter()
        make = traffic.factory.make

        def counted(scenario: str, start: float, **kwargs: Any) -> Any:
            scenarios[scenario] += 1
            return make(scenario, start, **kwargs)

        setattr(traffic.factory, "make", counted)  # noqa: B010
        started = time.perf_counter()
        if await command() != "finish":
            await traffic.stop()
            return
        offered = time.perf_counter() - started
        sent_when_offered = sim.events_sent
        await traffic.finish()
        conn.send(
            (
                "sent",
                {
                    "events_sent": sim.events_sent,
                    "events_unheard": sim.events_unheard,
                    "events_sent_while_starting": sent_when_offered,
                    "calls_started": sim.calls_started,
                    "scenarios": dict(scenarios),
                    "offered_seconds": offered,
                    "finish_seconds": time.perf_counter() - started - offered,
                    "cpu_seconds": _own_cpu() - cpu_at_go,
                    "peak_rss_mb": _peak_rss_mb(),
                },
            )
        )
        await command()  # "stop": the listener has read everything (or the run gave up)


class Pbx:
    """The simulator process, seen from the benchmark."""

    def __init__(self, options: PbxOptions) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_simulator_process, args=(child, options), name="pbx-sim", daemon=True
        )
        self.port = 0

    async def _recv(self, within: float) -> Any:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self._conn.poll, within):
            raise TimeoutError("the simulator did not answer")
        return await loop.run_in_executor(None, self._conn.recv)

    async def start(self) -> None:
        self.process.start()
        kind, self.port = await self._recv(60.0)
        assert kind == "port"

    def go(self) -> None:
        self._conn.send("go")

    async def finish(self, stalled: Callable[[], bool]) -> dict[str, Any]:
        """Start no more calls; what was sent once the calls under way have sent their
        last events (which waits for the listener to read them)."""
        self._conn.send("finish")
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, self._conn.poll, 0.5):
            if stalled():
                raise RuntimeError("the listener stopped taking events")
        kind, figures = await loop.run_in_executor(None, self._conn.recv)
        assert kind == "sent"
        return dict(figures)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self.process.join(10.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)
        self._conn.close()


# -- the listener, with a stopwatch and a valve ---------------------------------------------------


class FlowQueue(asyncio.Queue[Any]):
    """The listener's queue, able to hold the socket back: past ``high`` waiting events it
    pauses reading, below ``high // 2`` it reads again. ``high`` 0: never."""

    def __init__(self, high: int) -> None:
        super().__init__()
        self.high = high
        self.transport: asyncio.ReadTransport | None = None
        self.paused = False
        self.pauses = 0
        self.max_size = 0

    def put_nowait(self, item: Any) -> None:
        super().put_nowait(item)
        size = self.qsize()
        if size > self.max_size:
            self.max_size = size
        if self.high and size > self.high and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
            self.pauses += 1

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        if self.paused and self.qsize() < self.high // 2:
            self.paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return item


class MeasuredListener(AmiListener):
    """The service's listener, unchanged, plus a stopwatch: every event that leaves the queue
    (``_track``) and the moment the batch it was in is committed (``_deliver`` returning).
    Event-to-commit latency runs from the socket read that completed the event."""

    def __init__(self, *args: Any, high_water: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flow = FlowQueue(high_water)
        self.queue = self.flow
        self.consumed = 0
        self.batches = 0
        self.not_tracked = 0
        self.latencies = array("d")  # seconds, one per event consumed
        self.first_received: float | None = None
        self.last_commit: float | None = None
        self.since = float("inf")
        self._pending = array("d")

    def start_counting(self) -> None:
        """Count the events read from now on (not the FullyBooted after the login, which
        may still be in the queue)."""
        self.consumed = self.batches = self.not_tracked = 0
        self.latencies = array("d")
        self.first_received = self.last_commit = None
        self.since = time.time()

    def _track(self, frame: Message, received_at: float, extras: Extras) -> list[CallEvent]:
        if received_at >= self.since:
            self._pending.append(received_at)
            if not self.tracker.handles(frame.event):
                self.not_tracked += 1
        return super()._track(frame, received_at, extras)

    async def _deliver(self, events: list[CallEvent], extras: Extras | None = None) -> None:
        await super()._deliver(events, extras)
        pending = self._pending
        if not pending:
            return
        now = time.time()
        if self.first_received is None:
            self.first_received = pending[0]
        self.latencies.extend(now - t for t in pending)
        self.consumed += len(pending)
        self.batches += 1
        self.last_commit = now
        self._pending = array("d")


class GcClock:
    """The garbage collector's share: CPU time of this thread inside collections, by
    generation, and the longest collection on the wall clock (a pause in the stream)."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.cpu_seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0
        self._cpu = self._wall = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._cpu, self._wall = time.thread_time(), time.perf_counter()
            return
        generation = info["generation"]
        self.collections[generation] += 1
        self.cpu_seconds[generation] += time.thread_time() - self._cpu
        self.longest = max(self.longest, time.perf_counter() - self._wall)


@dataclass
class Sample:
    at: float  # seconds since "go"
    consumed: int
    backlog: int


@dataclass
class Sampler:
    """The consumer's progress and the queue in front of it, every ``SAMPLE_EVERY`` s."""

    listener: MeasuredListener
    origin: float
    samples: list[Sample] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY)

    def sample(self) -> None:
        self.samples.append(
            Sample(
                time.perf_counter() - self.origin,
                self.listener.consumed,
                self.listener.queue.qsize(),
            )
        )

    def per_second(self, start: float, end: float) -> list[float]:
        """Events committed in each whole second between ``start`` and ``end``."""
        rates = []
        second = start
        while second + 1.0 <= end:
            inside = [s for s in self.samples if second <= s.at <= second + 1.0]
            if len(inside) >= 2:
                span = inside[-1].at - inside[0].at
                rates.append((inside[-1].consumed - inside[0].consumed) / span)
            second += 1.0
        return rates


# -- CPU time: this process, the simulator, PostgreSQL ---------------------------------------------


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process on this machine (None: not visible)."""
    fields = _proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _postgres_pids(db: Database) -> list[int]:
    """The server's processes: its backends, its background processes and the postmaster
    (when the server runs on this machine and /proc shows them)."""
    assert db.engine is not None
    async with db.engine.connect() as conn:
        pids = list((await conn.execute(text("SELECT pid FROM pg_stat_activity"))).scalars())
    parents = {int(f[1]) for pid in pids if (f := _proc_stat(pid)) is not None}
    return sorted({*pids, *(p for p in parents if _is_postgres(p))})


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("postgres")
    except OSError:
        return False


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := _proc_cpu(pid)) is not None}


# -- the database: agents in, calls checked and cleared out ---------------------------------------

SEED_AGENTS = """
WITH added AS (
    INSERT INTO users (username, full_name, role, password_hash, is_active)
    SELECT :prefix || (1000 + g), 'Agent ' || g, 'agent', '!', true
    FROM generate_series(1, :n) AS g
    RETURNING id, username
)
INSERT INTO user_devices (user_id, device)
SELECT id, 'PJSIP/' || substr(username, length(:prefix) + 1) FROM added
"""

CHECK_CALLS = """
SELECT
    count(*) AS calls,
    count(*) FILTER (WHERE ended_at IS NULL OR outcome = 'live') AS not_ended,
    count(*) FILTER (WHERE answered_by <> '' AND answered_by_user_id IS NULL) AS agent_unlinked,
    (SELECT count(*) FROM call_legs WHERE pbx = :pbx) AS legs,
    (SELECT count(DISTINCT uniqueid) FROM call_legs WHERE pbx = :pbx) AS distinct_legs,
    (SELECT count(*) FROM pop_events WHERE pbx = :pbx) AS pops
FROM calls WHERE pbx = :pbx
"""
OUTCOMES = """
SELECT direction, outcome, count(*) FROM calls WHERE pbx = :pbx GROUP BY 1, 2 ORDER BY 1, 2
"""


async def seed_agents(db: Database, agents: int) -> None:
    assert db.engine is not None
    async with db.engine.begin() as conn:
        taken = (
            await conn.execute(
                text("SELECT count(*) FROM user_devices WHERE device = ANY(:d)"),
                {"d": [f"PJSIP/{1001 + i}" for i in range(agents)]},
            )
        ).scalar_one()
        if taken:
            raise SystemExit(f"{taken} of the simulated desks are already users' devices")
        await conn.execute(text(SEED_AGENTS), {"prefix": AGENT_PREFIX, "n": agents})


async def stored(db: Database) -> dict[str, Any]:
    assert db.engine is not None
    async with db.engine.connect() as conn:
        row = (await conn.execute(text(CHECK_CALLS), {"pbx": PBX})).mappings().one()
        outcomes = {
            f"{d} {o}": n for d, o, n in (await conn.execute(text(OUTCOMES), {"pbx": PBX})).all()
        }
    return {**row, "outcomes": outcomes}


async def clear(db: Database, agents: bool) -> None:
    assert db.engine is not None
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM pop_events WHERE pbx = :pbx"), {"pbx": PBX})
        await conn.execute(text("DELETE FROM calls WHERE pbx = :pbx"), {"pbx": PBX})
        if agents:
            await conn.execute(
                text("DELETE FROM users WHERE username LIKE :p"), {"p": AGENT_PREFIX + "%"}
            )


def expected_outcomes(scenarios: dict[str, int]) -> Counter[str]:
    """The calls the scenarios played should leave, from the recordings' expected call logs
    (the customer's calls; an attended transfer also leaves its consultation, an internal
    call between the two agents)."""
    from telephony.simulator import DEFAULT_TRACE_DIR, SCENARIOS

    expected = json.loads((DEFAULT_TRACE_DIR / "expected.json").read_text())
    out: Counter[str] = Counter()
    for scenario, n in scenarios.items():
        for call in expected[SCENARIOS[scenario][0]]:
            out[f"{call['direction']} {call['outcome']}"] += n
        if scenario == "attended_transfer":
            out["internal answered"] += n
    return out


# -- measuring ----------------------------------------------------------------------------------


async def wait_for(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Progress:
    """Whether the listener has stopped taking events (a handler failing again and again)."""

    def __init__(self, listener: MeasuredListener) -> None:
        self.listener = listener
        self.seen = listener.consumed
        self.since = time.monotonic()

    def stalled(self) -> bool:
        if self.listener.consumed != self.seen:
            self.seen, self.since = self.listener.consumed, time.monotonic()
            return False
        return time.monotonic() - self.since > STALL


def _ready(listener: AmiListener) -> bool:
    return listener.health.status == "connected" and listener.health.resyncs >= 1


@dataclass
class Measured:
    sent: dict[str, Any]
    consumed: int
    skipped: int
    malformed: int
    handler_errors: int
    batches: int
    call_writes: int
    drained: bool
    wall: float  # first read to last commit
    offered_end: float  # seconds from "go" until no new call started
    finished_at: float  # ... until the simulator had sent everything
    drained_at: float  # ... until the listener had committed everything
    latency: Stats
    steady: list[float]  # events committed each second while calls started, after a ramp
    max_backlog: int
    backlog_at_end: int
    pauses: int
    cpu_listener: float
    cpu_postgres: float | None
    gc: GcClock


async def measure(args: argparse.Namespace, db: Database, settings: Settings) -> Measured:
    assert db.sessionmaker is not None
    pbx = Pbx(PbxOptions(args.rate, args.pace, args.agents, args.seed))
    # As the service builds them (app.main): the recorder writes pops too, unless --store says
    # otherwise ("nothing": the call events are dropped, to see the cost of the rest).
    recorder = CallRecorder(
        db.sessionmaker, region=settings.default_region, pops=args.store == "all"
    )

    async def discard(events: list[CallEvent], extras: Extras | None = None) -> None:
        return None

    gc_clock = GcClock()
    thresholds: tuple[int, int, int] | None = None
    listener: MeasuredListener | None = None
    sampler_task: asyncio.Task[None] | None = None
    try:
        await pbx.start()
        listener = MeasuredListener(
            PbxConfig(PBX, "127.0.0.1", pbx.port, USER, SecretStr(SECRET)),
            discard if args.store == "nothing" else recorder,
            tracker=CallTracker(PBX, region=settings.default_region),
            high_water=args.high_water if args.pace == "max" else 0,
        )
        await listener.start()
        if not await wait_for(lambda: _ready(listener), 30.0):
            raise RuntimeError(f"the listener did not connect: {listener.health.as_dict()}")
        assert listener._manager is not None and listener._manager.protocol is not None
        listener.flow.transport = listener._manager.protocol.transport
        if args.gc == "service":
            thresholds = collector.settle()  # as the service's lifespan does once started
        elif args.gc == "freeze":
            gc.collect()
            gc.freeze()
        listener.start_counting()
        pg_pids = await _postgres_pids(db) if args.cpu_postgres else []
        pg_cpu_before = _cpu_of(pg_pids)
        cpu_before = _own_cpu()
        gc_clock.start()
        origin = time.perf_counter()
        sampler = Sampler(listener, origin)
        sampler_task = asyncio.create_task(sampler.run(), name="bench-sampler")
        pbx.go()
        await asyncio.sleep(args.seconds)
        offered_end = time.perf_counter() - origin
        backlog_at_end = listener.queue.qsize()
        progress = Progress(listener)
        sent = await pbx.finish(progress.stalled)
        finished_at = time.perf_counter() - origin

        def caught_up() -> bool:
            assert listener is not None
            return listener.consumed >= sent["events_sent"] and listener.queue.empty()

        await wait_for(lambda: caught_up() or progress.stalled(), 3600.0)
        drained = caught_up()
        drained_at = time.perf_counter() - origin
        # A moment longer: an event beyond those sent would be counted too.
        await asyncio.sleep(0.2)
        sampler_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler_task
        sampler.sample()
        cpu_listener = _own_cpu() - cpu_before
        gc_clock.stop()
        pg_cpu_after = _cpu_of(await _postgres_pids(db) if args.cpu_postgres else [])
        cpu_postgres = (
            sum(pg_cpu_after.values()) - sum(pg_cpu_before.get(p, 0.0) for p in pg_cpu_after)
            if pg_cpu_after
            else None
        )
        protocol = listener._manager.protocol
        health = listener.health
        measured = Measured(
            sent=sent,
            consumed=listener.consumed,
            skipped=listener.not_tracked,
            malformed=getattr(protocol, "malformed", 0),
            handler_errors=health.handler_errors,
            batches=listener.batches,
            call_writes=recorder.stored,
            drained=drained,
            wall=(listener.last_commit or 0.0) - (listener.first_received or 0.0),
            offered_end=offered_end,
            finished_at=finished_at,
            drained_at=drained_at,
            latency=Stats.of([round(s * 1e9) for s in listener.latencies]),
            # Paced, the first call lengths are a ramp: calls start, few have ended yet.
            steady=sampler.per_second(
                2.0 if args.pace == "max" else min(30.0, offered_end / 2), offered_end
            ),
            max_backlog=max(listener.flow.max_size, *(s.backlog for s in sampler.samples)),
            backlog_at_end=backlog_at_end,
            pauses=listener.flow.pauses,
            cpu_listener=cpu_listener,
            cpu_postgres=cpu_postgres,
            gc=gc_clock,
        )
    finally:
        gc_clock.stop()
        if thresholds is not None:
            collector.restore(thresholds)
        elif args.gc == "freeze":
            gc.unfreeze()
        if sampler_task is not None and not sampler_task.done():
            sampler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler_task
        if listener is not None:
            await listener.stop()
        pbx.stop()
    return measured


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=30.0, metavar="S", help="how long new calls start"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        metavar="R",
        help="calls per second (--pace max: on the PBX's clock; real: on the wall clock)",
    )
    parser.add_argument("--pace", choices=("max", "real"), default="max")
    parser.add_argument(
        "--high-water",
        type=int,
        default=20_000,
        metavar="N",
        help="--pace max: pause reading the socket while more than N events wait (0: never)",
    )
    parser.add_argument(
        "--agents", type=int, default=300, metavar="N", help="the PBX's agent desks (1001 on)"
    )
    parser.add_argument(
        "--no-users",
        dest="users",
        action="store_false",
        help="do not map the desks to users (no agent links, no screen-pops)",
    )
    parser.add_argument(
        "--store",
        choices=("all", "calls", "nothing"),
        default="all",
        help="all: calls and screen-pops, as the service; calls: CallRecorder(pops=False);"
        " nothing: drop the tracker's output (socket, parse and track only)",
    )
    parser.add_argument(
        "--gc",
        choices=("service", "freeze", "default"),
        default="service",
        help="the garbage collector once connected: service (as the service's lifespan sets"
        " it, app/collector.py), freeze (gc.freeze() only), default (CPython's defaults)",
    )
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for the traffic")
    parser.add_argument("--keep", action="store_true", help="keep the calls, pops and users")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument(
        "--no-cpu-postgres",
        dest="cpu_postgres",
        action="store_false",
        help="do not read the PostgreSQL processes' CPU time from /proc",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.high_water < 0:
        parser.error("--seconds and --rate must be positive, --high-water not negative")
    if not 3 <= args.agents <= 999:
        parser.error("--agents must be between 3 and 999")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    # Terminated, still stop the simulator, the listener and the embedded database.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    settings, temp_dir = bench_settings(args.pgdata)
    db = Database(settings)
    seeded = False
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.engine is not None
        async with db.engine.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
            existing = (
                await conn.execute(text("SELECT count(*) FROM calls WHERE pbx = :p"), {"p": PBX})
            ).scalar_one()
        if existing:
            raise SystemExit(f"the database already holds {existing} calls of PBX {PBX!r}")
        if args.users:
            await seed_agents(db, args.agents)
            seeded = True
        load = os.getloadavg()[0]
        how = (
            "as fast as the listener takes them"
            if args.pace == "max"
            else "on the wall clock, as a PBX would"
        )
        print(
            f"PostgreSQL {version}; {args.seconds:g} s of new calls at {args.rate:g} a second,"
            f" {how}; {args.agents} agent desks (load average {load:.2f}) ...",
            flush=True,
        )
        m = await measure(args, db, settings)
        print("checking what was stored ...", flush=True)
        db_figures = await stored(db)
        if not args.keep:
            await clear(db, seeded)
            seeded = False
    finally:
        if seeded and db.engine is not None:
            with contextlib.suppress(Exception):
                await clear(db, True)
        await db.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    figures = summarize(args, m, db_figures, load, version)
    report(figures, m, db_figures)
    return figures


def summarize(
    args: argparse.Namespace, m: Measured, db: dict[str, Any], load: float, version: str
) -> dict[str, Any]:
    sent = m.sent
    checked = args.store != "nothing"
    expected = expected_outcomes(sent["scenarios"])
    got = Counter(db["outcomes"])
    mismatched = sum(((expected - got) + (got - expected)).values()) // 2
    consultations = sent["scenarios"].get("attended_transfer", 0)
    steady = m.steady
    return {
        "pace": args.pace,
        "seconds": args.seconds,
        "rate": args.rate,
        "store": args.store,
        "events_per_s": round(m.consumed / m.wall) if m.wall > 0 else 0,
        "steady_events_per_s_p50": round(statistics.median(steady)) if steady else 0,
        "steady_events_per_s_min": round(min(steady)) if steady else 0,
        "offered_events_per_s": round(sent["events_sent_while_starting"] / m.offered_end),
        "events_sent": sent["events_sent"],
        "events_persisted_or_skipped": m.consumed,
        "lost": sent["events_sent"] - m.consumed,
        "events_not_tracked": m.skipped,
        "events_unheard": sent["events_unheard"],
        "malformed": m.malformed,
        "handler_errors": m.handler_errors,
        "batches": m.batches,
        "call_writes": m.call_writes,
        "calls_started": sent["calls_started"],
        "calls_stored": db["calls"] - consultations if checked else None,
        "consultation_calls": consultations,
        "calls_not_ended": db["not_ended"] if checked else None,
        "outcome_mismatches": mismatched if checked else None,
        "legs": db["legs"],
        "duplicate_legs": db["legs"] - db["distinct_legs"],
        "pops": db["pops"],
        "wall_seconds": round(m.wall, 2),
        "drain_seconds": round(m.drained_at - m.finished_at, 2),
        "max_backlog": m.max_backlog,
        "backlog_when_calls_stopped": m.backlog_at_end,
        "read_pauses": m.pauses,
        "latency_p50_ms": round(m.latency.p50, 1),
        "latency_p99_ms": round(m.latency.p99, 1),
        "latency_max_ms": round(m.latency.max, 1),
        "cpu_listener_s": round(m.cpu_listener, 1),
        "cpu_listener_us_per_event": round(m.cpu_listener / max(1, m.consumed) * 1e6, 1),
        "gc_cpu_s": round(sum(m.gc.cpu_seconds), 2),
        "gc_full_collections": m.gc.collections[2],
        "gc_longest_ms": round(m.gc.longest * 1e3, 1),
        "cpu_simulator_s": round(sent["cpu_seconds"], 1),
        "cpu_postgres_s": None if m.cpu_postgres is None else round(m.cpu_postgres, 1),
        "elapsed_s": round(m.drained_at, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "simulator_peak_rss_mb": sent["peak_rss_mb"],
        "agents": args.agents,
        "high_water": args.high_water if args.pace == "max" else None,
        "gc": args.gc,
        "load_average": round(load, 2),
        "postgres": version,
        "python": sys.version.split()[0],
    }


def report(f: dict[str, Any], m: Measured, db: dict[str, Any]) -> None:
    print()
    print(f"  events sent by the PBX            {f['events_sent']:>12,}")
    print(f"  events persisted or skipped       {f['events_persisted_or_skipped']:>12,}")
    print(f"    of which not for the tracker    {f['events_not_tracked']:>12,}")
    print(f"  lost                              {f['lost']:>12,}")
    print(f"  malformed / handler errors        {f['malformed']:>5} / {f['handler_errors']}")
    print(
        f"  end to end                        {f['events_per_s']:>12,} events/s"
        f"  ({f['wall_seconds']} s from the first read to the last commit)"
    )
    print(
        f"  each second while calls started   p50 {f['steady_events_per_s_p50']:,},"
        f" min {f['steady_events_per_s_min']:,} events/s"
        f" (the PBX sent {f['offered_events_per_s']:,} a second on average while calls"
        " started)"
    )
    print(
        f"  backlog (read, not yet tracked)   max {f['max_backlog']:,},"
        f" when new calls stopped {f['backlog_when_calls_stopped']:,};"
        f" drained {f['drain_seconds']} s after the PBX's last event;"
        f" reading paused {f['read_pauses']:,} times"
    )
    print(
        f"  event-to-commit latency           p50 {f['latency_p50_ms']} ms,"
        f" p99 {f['latency_p99_ms']} ms, max {f['latency_max_ms']} ms"
    )
    print(
        f"  batches {f['batches']:,}; call rows written {f['call_writes']:,}"
        f" ({f['call_writes'] / max(1, f['batches']):.1f} a batch); pops {f['pops']:,}"
    )
    problems = []
    if f["store"] == "nothing":
        print(f"  calls started {f['calls_started']:,}; not stored (--store nothing)")
    else:
        print(
            f"  calls started {f['calls_started']:,}; stored {f['calls_stored']:,}"
            f" (+ {f['consultation_calls']:,} consultations of attended transfers);"
            f" not ended {f['calls_not_ended']}; legs {f['legs']:,},"
            f" duplicates {f['duplicate_legs']}"
        )
        expected = expected_outcomes(m.sent["scenarios"])
        got = Counter(db["outcomes"])
        print("  outcomes stored (expected from the scenarios played):")
        for key in sorted(set(expected) | set(got)):
            flag = "" if expected[key] == got[key] else "   <-- differs"
            print(f"    {key:<22} {got[key]:>7,} ({expected[key]:,}){flag}")
        if f["calls_stored"] != f["calls_started"]:
            problems.append(f"{f['calls_started']:,} calls started, {f['calls_stored']:,} stored")
        if f["calls_not_ended"]:
            problems.append(f"{f['calls_not_ended']:,} calls never ended")
        if f["duplicate_legs"]:
            problems.append(f"{f['duplicate_legs']:,} duplicate legs")
        if f["outcome_mismatches"]:
            problems.append(f"{f['outcome_mismatches']:,} calls with another direction or outcome")
    print(
        f"  CPU seconds over {f['elapsed_s']} s: listener {f['cpu_listener_s']}"
        f" ({f['cpu_listener_us_per_event']} us an event),"
        f" simulator {f['cpu_simulator_s']}, PostgreSQL {f['cpu_postgres_s']}"
    )
    print(
        f"  garbage collector: {f['gc_cpu_s']} s of the listener's CPU,"
        f" {f['gc_full_collections']} full collections, longest {f['gc_longest_ms']} ms"
    )
    print(f"  peak RSS: listener {f['peak_rss_mb']} MB, simulator {f['simulator_peak_rss_mb']} MB")
    if f["lost"]:
        problems.insert(0, f"{f['lost']:,} events lost")
    if f["events_unheard"]:
        problems.append(f"{f['events_unheard']:,} events sent while no client listened")
    if f["malformed"] or f["handler_errors"]:
        problems.append("malformed frames or handler errors")
    if not m.drained:
        problems.append("the listener did not catch up in time")
    print("  checks: " + ("; ".join(problems) if problems else "all passed"))


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_and_print(
        lambda: run(args),
        args.loop,
        terminated="terminated; the simulator and the database were stopped",
    )


if __name__ == "__main__":
    main()
