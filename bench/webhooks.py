"""Webhooks: deliveries per second to a local receiver that fails 1 % of them, and the
screen-pop latency while Tamas delivers webhooks, against the same run without webhooks.

    .venv/bin/python bench/webhooks.py --agents 200 --rate 20 --seconds 15

Two runs of bench/pop_latency.py's measurement (Tamas in a process of its own following a
simulated PBX, one websocket client per agent, the clock from the ring written to the pop
in the client): the first with no webhook endpoint, the second with ``--endpoints`` endpoints
subscribed to every event type, so that every call's ringing, answer, end, tracking code and
callback are delivered (signed, in order per endpoint) while the pops go out. The deliveries
run where ``--worker`` says (``TAMAS_WEBHOOK_WORKER``): in Tamas's child process (the
default; "Tamas CPU" is then the serving process's alone), or inline in it. The receiver
is a process of its own (uvicorn) answering 500 to ``--failure-rate`` of the requests at
random; Tamas retries those (first wait 0.1 s here, doubling: ``TAMAS_WEBHOOK_BACKOFF_*``).
The runs without and with webhooks alternate in ``--pairs`` pairs (the order turned round every
other pair, the outbox emptied after each run), so that the shared machine's drifting load
falls on both alike; the ratio is the median over the pairs of the pop p50 and p99 with
webhooks over those without (goal: at most 1.2).

Then the throughput: ``--drain-events`` events enqueued at once for the endpoints, and the
webhook worker (as the lifespan runs it) started alone in this process until every delivery
is delivered or dead: deliveries per second from the first claim to the last outcome, 1 %
of the tries failing and retried. Each endpoint's deliveries go one at a time, in order, so
a failure holds its endpoint's queue for its backoff: the figure is for several endpoints.

The database is the one the service would use (``TAMAS_DATABASE_URL``) or an embedded one
in a temporary folder. Human-readable figures first; the last line printed is one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pop_latency as pl
import uvicorn
from common import Stats, run_and_print
from sqlalchemy import text

from app.config import Settings
from app.db import Database, unit_of_work
from app.integrations import events as ev
from app.integrations.service import IntegrationService, emit
from app.integrations.worker import WebhookWorker

# Tamas's webhook settings in both runs (the first has no endpoint, so they do nothing).
TAMAS_ENV = {
    "TAMAS_WEBHOOK_BACKOFF_FIRST_SECONDS": "0.1",
    "TAMAS_WEBHOOK_BACKOFF_MOST_SECONDS": "2",
    "TAMAS_WEBHOOK_TIMEOUT_SECONDS": "5",
}


# -- the receiver: a process of its own -----------------------------------------------------------


def serve_receiver(failure_rate: float) -> None:
    """The child: answers POSTs 200, or 500 for ``failure_rate`` of them at random; GET
    /stats says how many it had. Prints its port once it listens."""
    counts = {"requests": 0, "failed": 0, "ok": 0}
    seen: set[str] = set()
    rng = random.Random(7)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            body = json.dumps({**counts, "distinct_ok": len(seen)}).encode()
            status = 200
        else:
            counts["requests"] += 1
            headers = dict(scope["headers"])
            if rng.random() < failure_rate:
                counts["failed"] += 1
                status, body = 500, b"injected failure"
            else:
                counts["ok"] += 1
                seen.add(headers.get(b"tamas-event-id", b"").decode() + "|" + scope["path"])
                status, body = 200, b"ok"
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def exit_with_parent() -> None:
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    pl._Announcing(config).run()


async def spawn_receiver(failure_rate: float, log: Path) -> pl.Child:
    out = log.open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-receiver",
        str(failure_rate),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=out,
    )
    child = pl.Child("receiver", process, log)
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60.0)
    if not line.strip().isdigit():
        await child.stop()
        raise RuntimeError("the receiver did not start:\n" + "\n".join(child.log_lines()[-20:]))
    child.port = int(line)
    return child


# -- the runs -------------------------------------------------------------------------------------


def with_webhook_settings() -> None:
    """pop_latency starts Tamas with the TAMAS_ variables it picks: ours go with them."""
    spawn = pl.spawn

    async def patched(kind: str, env: dict[str, str], log: Path, logs: list[Any]) -> pl.Child:
        return await spawn(kind, env | TAMAS_ENV, log, logs)

    pl.spawn = patched  # type: ignore[assignment]


@dataclass
class Run:
    pair: int
    hooks: bool
    figures: dict[str, Any]
    latencies: list[int]
    load_before: float
    load_after: float


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


async def one_run(args: argparse.Namespace, db: Database, pgdata: Path | None, temp: Path) -> Any:
    try:
        return await pl.measure(args, db, pgdata, temp)
    finally:
        await pl.unseed(db)


async def outbox(db: Database) -> dict[str, int]:
    assert db.engine is not None
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT status, count(*) FROM webhook_deliveries GROUP BY 1"))
        ).all()
    return {status: n for status, n in rows}


async def drain(db: Database, settings: Settings, events: int) -> dict[str, Any]:
    """``events`` events enqueued at once; the worker alone delivers them."""
    assert db.sessionmaker is not None and db.engine is not None
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM webhook_deliveries"))
    async with unit_of_work(db.sessionmaker) as session:
        batch = [
            ev.envelope(ev.CALLBACK_CREATED, {"callback_id": i, "number": f"+98912{i:07d}"})
            for i in range(events)
        ]
        made = await emit(session, batch)
    first = float(TAMAS_ENV["TAMAS_WEBHOOK_BACKOFF_FIRST_SECONDS"])
    most = float(TAMAS_ENV["TAMAS_WEBHOOK_BACKOFF_MOST_SECONDS"])
    conf = settings.model_copy(
        update={"webhook_backoff_first_seconds": first, "webhook_backoff_most_seconds": most}
    )
    worker = WebhookWorker(db.sessionmaker, conf, poll_seconds=0.05)
    began = time.perf_counter()
    worker.start()
    try:
        while True:
            counts = await outbox(db)
            if not counts.get("pending") and not counts.get("delivering"):
                break
            await asyncio.sleep(0.1)
    finally:
        seconds = time.perf_counter() - began
        await worker.stop()
    assert db.engine is not None
    async with db.engine.connect() as conn:
        tries, p50, p99 = (
            await conn.execute(
                text(
                    "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),"
                    " percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms)"
                    " FROM webhook_attempts"
                )
            )
        ).one()
    return {
        "deliveries": made,
        "seconds": seconds,
        "per_second": made / seconds,
        "tries": tries,
        "statuses": counts,
        "request_p50_ms": p50,
        "request_p99_ms": p99,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    TAMAS_ENV["TAMAS_WEBHOOK_WORKER"] = args.worker
    with_webhook_settings()
    temp = Path(tempfile.mkdtemp(prefix="tamas-bench-hooks-"))
    settings = Settings()
    pgdata: Path | None = None
    if settings.database_url is None:
        pgdata = temp / "pgdata"
        settings = Settings(pgdata=pgdata)
    db = Database(settings)
    receiver: pl.Child | None = None
    runs: list[Run] = []
    during: list[dict[str, int]] = []
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.sessionmaker is not None
        receiver = await spawn_receiver(args.failure_rate, temp / "receiver.log")
        async with unit_of_work(db.sessionmaker) as session:
            for i in range(args.endpoints):
                url = f"http://127.0.0.1:{receiver.port}/hook/{i}"
                await IntegrationService(session).create(url, list(ev.EVENT_TYPES), "bench", False)
        # Runs without and with webhooks alternate, in pairs, the order turned round every
        # other pair: the shared machine's load drifts, and a pair's two runs are next to
        # each other in time. The ratio is the median of the pairs' ratios.
        for n in range(args.pairs):
            for hooks in (False, True) if n % 2 == 0 else (True, False):
                async with db.engine.begin() as conn:  # type: ignore[union-attr]
                    await conn.execute(
                        text("UPDATE webhook_endpoints SET enabled = :on"), {"on": hooks}
                    )
                label = (
                    f"{args.endpoints} webhook endpoints for every event"
                    if hooks
                    else "no webhooks"
                )
                print(f"\n== pair {n + 1} of {args.pairs}: {label} ==", flush=True)
                load = os.getloadavg()[0]
                measured = await one_run(args, db, pgdata, temp)
                figures = pl.report(args, measured)
                after = os.getloadavg()[0]
                runs.append(Run(n, hooks, figures, measured.burst.latencies, load, after))
                if hooks:
                    during.append(await outbox(db))
                # What is left undelivered must not be sent during the next run.
                async with db.engine.begin() as conn:  # type: ignore[union-attr]
                    await conn.execute(
                        text(
                            "DELETE FROM webhook_deliveries"
                            " WHERE status IN ('pending', 'delivering')"
                        )
                    )
                    await conn.execute(text("DELETE FROM integration_events"))
        received = await pl.get_json(receiver.port, "/stats")

        print(f"\n== throughput: {args.drain_events:,} events x {args.endpoints} endpoints ==")
        drained = await drain(db, settings, args.drain_events)
    finally:
        if receiver is not None:
            await receiver.stop()
        if db.engine is not None:
            async with db.engine.begin() as conn:
                await conn.execute(text("DELETE FROM webhook_endpoints"))
                await conn.execute(text("DELETE FROM integration_events"))
        await db.close()
        shutil.rmtree(temp, ignore_errors=True)

    pairs = []
    for n in range(args.pairs):
        without = next(r for r in runs if r.pair == n and not r.hooks)
        hooked = next(r for r in runs if r.pair == n and r.hooks)
        pairs.append(
            {
                "p50_ms_without": without.figures["p50_ms"],
                "p99_ms_without": without.figures["p99_ms"],
                "p50_ms_with": hooked.figures["p50_ms"],
                "p99_ms_with": hooked.figures["p99_ms"],
                "ratio_p50": _ratio(hooked.figures["p50_ms"], without.figures["p50_ms"]),
                "ratio_p99": _ratio(hooked.figures["p99_ms"], without.figures["p99_ms"]),
                "load_without": [round(without.load_before, 2), round(without.load_after, 2)],
                "load_with": [round(hooked.load_before, 2), round(hooked.load_after, 2)],
            }
        )
    ratio_p50 = statistics.median(p["ratio_p50"] for p in pairs)
    ratio_p99 = statistics.median(p["ratio_p99"] for p in pairs)
    base = Stats.of([x for r in runs if not r.hooks for x in r.latencies])
    hooked_all = Stats.of([x for r in runs if r.hooks for x in r.latencies])
    print("\n  pair  without p50/p99 ms   with p50/p99 ms   ratio p50/p99   load (1 min) w/o, with")
    for n, p in enumerate(pairs, 1):
        print(
            f"  {n:>4}  {p['p50_ms_without']:>8.1f} {p['p99_ms_without']:>8.1f}"
            f"  {p['p50_ms_with']:>8.1f} {p['p99_ms_with']:>8.1f}"
            f"  {p['ratio_p50']:>6.2f} {p['ratio_p99']:>6.2f}"
            f"   {p['load_without']} {p['load_with']}"
        )
    met = ratio_p50 <= 1.2 and ratio_p99 <= 1.2
    print(
        f"\n  pops, all runs pooled: without p50 {base.p50:.1f} ms, p99 {base.p99:.1f} ms;"
        f" with p50 {hooked_all.p50:.1f} ms, p99 {hooked_all.p99:.1f} ms"
    )
    print(
        f"  ratio (median of the {args.pairs} pairs): p50 {ratio_p50:.2f}, p99 {ratio_p99:.2f};"
        f" goal <= 1.2: {'met' if met else 'MISSED'}"
    )
    print(
        f"  during the runs with webhooks: deliveries {during}; the receiver had"
        f" {received['requests']:,} requests, {received['failed']:,} failed on purpose"
    )
    print(
        f"  throughput: {drained['deliveries']:,} deliveries in {drained['seconds']:.1f} s ="
        f" {drained['per_second']:,.0f}/s ({drained['tries']:,} tries, {drained['statuses']});"
        f" request p50 {drained['request_p50_ms']:.2f} ms, p99 {drained['request_p99_ms']:.2f} ms"
    )
    return {
        "agents": args.agents,
        "rate": args.rate,
        "calls": args.calls,
        "endpoints": args.endpoints,
        "worker": args.worker,
        "failure_rate": args.failure_rate,
        "deliveries_per_s": round(drained["per_second"], 1),
        "drain_deliveries": drained["deliveries"],
        "drain_seconds": round(drained["seconds"], 2),
        "drain_tries": drained["tries"],
        "drain_statuses": drained["statuses"],
        "request_p50_ms": round(drained["request_p50_ms"], 2),
        "request_p99_ms": round(drained["request_p99_ms"], 2),
        "runs_deliveries": during,
        "receiver": received,
        "pairs": pairs,
        "pop_p50_ms_without": round(base.p50, 2),
        "pop_p99_ms_without": round(base.p99, 2),
        "pop_p50_ms_with": round(hooked_all.p50, 2),
        "pop_p99_ms_with": round(hooked_all.p99, 2),
        "ratio_p50": round(ratio_p50, 3),
        "ratio_p99": round(ratio_p99, 3),
        "goal_met": met,
        "pops_received_without": sum(len(r.latencies) for r in runs if not r.hooks),
        "pops_received_with": sum(len(r.latencies) for r in runs if r.hooks),
        "tamas_warnings_with": sum(r.figures["tamas_warnings"] for r in runs if r.hooks),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--failure-rate", type=float, default=0.01)
    parser.add_argument("--drain-events", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=3, help="runs without and with webhooks")
    parser.add_argument(
        "--worker",
        choices=("process", "inline"),
        default="process",
        help="TAMAS_WEBHOOK_WORKER of the Tamas measured (process: the default)",
    )
    parser.add_argument("--serve-receiver", type=float, default=None, help=argparse.SUPPRESS)
    ours, rest = parser.parse_known_args()
    if ours.serve_receiver is not None:
        return ours
    defaults = ["--agents", "200", "--rate", "20", "--seconds", "15", "--warmup-calls", "40"]
    defaults += ["--idle-seconds", "2"]
    args = pl.parse_args(defaults + rest)
    for name, value in vars(ours).items():
        setattr(args, name, value)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.endpoints < 1 or not 0 <= args.failure_rate < 1 or args.drain_events < 1:
        parser.error("--endpoints and --drain-events must be positive, --failure-rate in [0, 1)")
    return args


def main() -> None:
    args = parse_args()
    if args.serve_receiver is not None:
        serve_receiver(args.serve_receiver)
        return
    with contextlib.suppress(KeyboardInterrupt):
        run_and_print(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
