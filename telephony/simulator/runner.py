"""Running a simulator on its own (``tamas pbx-sim``) until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

from telephony.simulator.replay import Pace
from telephony.simulator.server import DEFAULT_TRACE_DIR, AmiSimulator

log = logging.getLogger("telephony.simulator")

STATUS_EVERY = 10.0  # seconds between progress lines


@dataclass(frozen=True)
class RunOptions:
    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    replay: Path | None = None
    pace: Pace = "recorded"
    loop: bool = False
    split: int | None = None
    generate: bool = False
    rate: float = 1.0
    speed: float | None = 1.0
    seed: int | None = None
    scenarios: tuple[str, ...] = ()
    count: int | None = None
    wait_for_clients: bool = True
    trace_dir: Path = DEFAULT_TRACE_DIR


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:5038`` for IPv6) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_pace(value: str) -> Pace:
    if value in ("recorded", "max"):
        return value  # type: ignore[return-value]
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not factor > 0:
        raise ValueError(f"--pace is recorded, max or a speed factor such as 10, not {value!r}")
    return factor


async def run(options: RunOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulator = AmiSimulator(
        options.host,
        options.port,
        username=options.username,
        secret=options.secret,
        speed=options.speed,
        seed=options.seed,
        trace_dir=options.trace_dir,
    )
    try:
        await simulator.start()
        # Logged as a line of its own: scripts (and the tests) read the port from it.
        log.info("listening on %s:%d (AMI user %s)", options.host, simulator.port, options.username)
        work = asyncio.create_task(_work(simulator, options), name="pbx-sim work")
        status = asyncio.create_task(_status(simulator), name="pbx-sim status")
        await stop.wait()
        log.info("stopping")
        for task in (work, status):
            task.cancel()
        for task in (work, status):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await simulator.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info(
        "stopped: %d events sent, %d calls started", simulator.events_sent, simulator.calls_started
    )


async def _work(simulator: AmiSimulator, options: RunOptions) -> None:
    if options.replay is not None:
        while True:
            # A replay waits for its audience: Tamas may connect after the simulator starts.
            log.info("replay of %s waits for a client to log in", options.replay.name)
            await simulator.wait_for_client()
            replay = simulator.replay(
                options.replay, pace=options.pace, loop=options.loop, split=options.split
            )
            await replay.wait()
            if replay.finished:
                log.info("replay of %s finished", options.replay.name)
                return
            log.info("replay interrupted (PBX restart); starting it again")
    if options.generate:
        traffic = simulator.generate(
            options.rate,
            speed=options.speed,
            count=options.count,
            scenarios=options.scenarios or None,
            seed=options.seed,
            wait_for_clients=options.wait_for_clients,
        )
        try:
            await traffic.wait()
        finally:
            await traffic.stop()


async def _status(simulator: AmiSimulator) -> None:
    while True:
        await asyncio.sleep(STATUS_EVERY)
        log.info(
            "%d client(s), %d calls started, %d events sent, %d unheard",
            simulator.clients,
            simulator.calls_started,
            simulator.events_sent,
            simulator.events_unheard,
        )
