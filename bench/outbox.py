"""The SMS outbox: ``--messages`` texts queued at once, drained by ``--workers`` outbox
workers in processes of their own (as several Tamas instances would) against the fake
Kavenegar of tests/fixtures/sms_provider.py, in a process of its own on a real socket.

    nice .venv/bin/python bench/outbox.py --messages 100000 --workers 2

The texts are written straight into sms_outbox in one statement, as ``MessagingService
.queue()`` stores them (the benchmark is the drain, not the triggers). Each worker is the
lifespan's ``OutboxWorker`` (claims with ``FOR UPDATE SKIP LOCKED`` and a lease, sends
``--concurrency`` at a time over one pooled client, writes the outcomes under its claim),
calling ``run_once()`` until nothing is queued or being sent. The fake provider does not
deduplicate here (``dedupe=False``): a text sent twice would be counted as a duplicate
rather than answered with its first send.

Figures: messages/s from the workers' start to the last outcome written, duplicates (texts
the provider received more than once: must be 0), lost (texts queued that the provider
never received or whose row is not "sent": must be 0), each worker's share, and the peak
RSS of each process. The database is the one the service would use (``TAMAS_DATABASE_URL``)
or an embedded one in a temporary folder. Human-readable figures first; the last line
printed is one JSON object.
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
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures

from common import bench_settings, run_and_print
from pydantic import SecretStr
from sqlalchemy import text

from app.config import Settings
from app.db import Database

_QUEUE = text(
    """
    INSERT INTO sms_outbox (idempotency_key, number, body, trigger, status, attempts,
                            next_attempt_at, claimed_by, provider, provider_message_id,
                            last_error, created_at, updated_at)
    SELECT 'bench:' || i, '+98912' || lpad((i % 10000000)::text, 7, '0'),
           'سلام، کد پیگیری شما ' || i || ' است', 'manual', 'queued', 0, now(), '', '', '',
           '', now(), now()
    FROM generate_series(1, :n) AS i
    """
)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def exit_with_parent() -> None:
    """A child ends when the benchmark does (its stdin closes), whatever happened there."""

    def watch() -> None:
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


# -- the fake provider: a process of its own -------------------------------------------------


def serve_provider() -> None:
    """The child: the fake Kavenegar (not deduplicating) plus GET /stats; prints its port."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.fixtures.sms_provider import FakeSms

    fake = FakeSms(dedupe=False)

    async def stats(_request: Any) -> JSONResponse:
        return JSONResponse(
            {
                "requests": fake.requests,
                "received": len(fake.sends),
                "duplicates": fake.duplicates,
                "received_ids": sorted(int(k) for k in fake.sends if k.isdigit()),
                "peak_rss_mib": round(peak_rss_mib(), 1),
            }
        )

    async def main() -> None:
        exit_with_parent()
        await fake.start()
        fake._server.config.app.router.routes.append(Route("/stats", stats))  # type: ignore[union-attr]
        print(fake.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- a worker: a process of its own ----------------------------------------------------------


def worker_settings(database_url: str, port: int, args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=SecretStr(database_url),
        db_pool_size=4,
        sms_provider="kavenegar",
        sms_kavenegar_api_key=SecretStr("fake-kavenegar-key-0123456789abcdef"),
        sms_kavenegar_base_url=f"http://127.0.0.1:{port}",
        sms_kavenegar_sender="10004346",
        sms_quiet_hours="",  # the run must not depend on the hour
        sms_rate_per_number=0,
        sms_batch=args.batch,
        sms_concurrency=args.concurrency,
        sms_timeout_seconds=10.0,
        sms_status_poll_seconds=0,
    )


async def work(name: str, database_url: str, port: int, args: argparse.Namespace) -> None:
    """Wait for "go" on stdin, drain, print what this worker did as one JSON line."""
    from app.messaging.providers import build_provider
    from app.messaging.worker import OutboxWorker

    conf = worker_settings(database_url, port, args)
    db = Database(conf)
    await db.open(migrate=False)
    assert db.sessionmaker is not None and db.engine is not None
    worker = OutboxWorker(db.sessionmaker, conf, build_provider(conf), name=name, sweeps=False)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    if (await reader.readline()).strip() != b"go":
        return  # the benchmark ended before it began
    began = time.perf_counter()
    rounds = claimed = 0
    try:
        while True:
            got = await worker.run_once()
            rounds += 1
            claimed += got
            if got:
                continue
            async with db.engine.connect() as conn:
                left = await conn.scalar(
                    text("SELECT count(*) FROM sms_outbox WHERE status IN ('queued', 'sending')")
                )
            if not left:
                break
            await asyncio.sleep(0.05)  # another worker holds what is left
    finally:
        await worker.stop()
        await db.close()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "name": name,
                "sent": worker.sent,
                "claimed": claimed,
                "rounds": rounds,
                "seconds": time.perf_counter() - began,
                "cpu_s": round(cpu.ru_utime + cpu.ru_stime, 2),
                "peak_rss_mib": round(peak_rss_mib(), 1),
            }
        ),
        flush=True,
    )


# -- the run ---------------------------------------------------------------------------------


async def spawn(*extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def line_of(process: asyncio.subprocess.Process, within: float) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), timeout=within)).decode().strip()


async def get_json(port: int, path: str) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        if process.stdin is not None:
            process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings, temp = bench_settings(None)
    db = Database(settings)
    children: list[asyncio.subprocess.Process] = []
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        assert db.engine is not None
        async with db.engine.begin() as conn:
            await conn.execute(text("TRUNCATE sms_outbox"))
            began = time.perf_counter()
            await conn.execute(_QUEUE, {"n": args.messages})
        queue_s = time.perf_counter() - began
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE sms_outbox"))
            queued_ids = set(
                (await conn.execute(text("SELECT id FROM sms_outbox"))).scalars().all()
            )
        print(f"  {args.messages:,} texts queued in {queue_s:.1f} s", flush=True)

        provider = await spawn("--serve-provider")
        children.append(provider)
        port = int(await line_of(provider, 60))
        workers = []
        for i in range(args.workers):
            process = await spawn(
                "--serve-worker", f"w{i}", "--url", db.url, "--port", str(port),
                "--batch", str(args.batch), "--concurrency", str(args.concurrency),
            )  # fmt: skip
            children.append(process)
            workers.append(process)
        for process in workers:
            assert await line_of(process, 120) == "ready"
        print(f"  {args.workers} workers ready; draining ...", flush=True)
        began = time.perf_counter()
        for process in workers:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        done = [json.loads(await line_of(p, args.limit_seconds)) for p in workers]
        seconds = time.perf_counter() - began
        stats = await get_json(port, "/stats")
        async with db.engine.connect() as conn:
            statuses = dict((await conn.execute(
                text("SELECT status, count(*) FROM sms_outbox GROUP BY 1")
            )).all())  # fmt: skip
            unsent = await conn.scalar(
                text("SELECT count(*) FROM sms_outbox WHERE status <> 'sent'")
            )
    finally:
        for process in children:
            await stop(process)
        if db.engine is not None:
            async with db.engine.begin() as conn:
                await conn.execute(text("TRUNCATE sms_outbox"))
        await db.close()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    received = set(stats["received_ids"])
    lost = len(queued_ids - received) + int(unsent or 0)
    per_s = args.messages / seconds
    print(f"\n  drained {args.messages:,} texts in {seconds:.1f} s = {per_s:,.0f} messages/s")
    for w in done:
        print(
            f"    worker {w['name']}: sent {w['sent']:,} in {w['rounds']:,} rounds,"
            f" CPU {w['cpu_s']:.1f} s, peak RSS {w['peak_rss_mib']:.0f} MiB"
        )
    print(
        f"  provider: {stats['requests']:,} requests, {stats['received']:,} texts received,"
        f" duplicates {stats['duplicates']}, peak RSS {stats['peak_rss_mib']:.0f} MiB"
    )
    print(f"  outbox rows by status: {statuses}; lost {lost}")
    return {
        "messages": args.messages,
        "workers": args.workers,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "queue_seconds": round(queue_s, 2),
        "drain_seconds": round(seconds, 2),
        "messages_per_s": round(per_s, 1),
        "duplicates": stats["duplicates"],
        "lost": lost,
        "provider_requests": stats["requests"],
        "statuses": statuses,
        "sent_per_worker": [w["sent"] for w in done],
        "worker_cpu_s": [w["cpu_s"] for w in done],
        "peak_rss_mib_workers": max(w["peak_rss_mib"] for w in done),
        "peak_rss_mib_provider": stats["peak_rss_mib"],
        "peak_rss_mib_bench": round(peak_rss_mib(), 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="TAMAS_SMS_BATCH")
    parser.add_argument("--concurrency", type=int, default=20, help="TAMAS_SMS_CONCURRENCY")
    parser.add_argument("--limit-seconds", type=float, default=3600.0)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--serve-provider", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.messages < 1 or args.workers < 1:
        parser.error("--messages and --workers must be positive")
    return args


def main() -> None:
    args = parse_args()
    if args.serve_provider:
        serve_provider()
        return
    if args.serve_worker is not None:
        asyncio.run(work(args.serve_worker, args.url, args.port, args))
        return
    with contextlib.suppress(KeyboardInterrupt):
        run_and_print(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
