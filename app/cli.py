"""The ``tamas`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError

from app.config import Settings

if TYPE_CHECKING:
    from app.db import Database

T = TypeVar("T")

cli = typer.Typer(
    help="Tamas (تماس): a call-center CRM beside an Asterisk PBX.\n\n"
    "Without TAMAS_DATABASE_URL, Tamas runs its own embedded PostgreSQL in ./var/pgdata.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
user_cli = typer.Typer(help="Manage users (agents, supervisors, admins).", no_args_is_help=True)
import_cli = typer.Typer(help="Import data from files.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")
calls_cli = typer.Typer(help="Call logs.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")
cli.add_typer(calls_cli, name="calls")
recordings_cli = typer.Typer(help="Call recordings.", no_args_is_help=True)
cli.add_typer(recordings_cli, name="recordings")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            typer.echo(f"configuration error ({where}): {err['msg']}", err=True)
        raise typer.Exit(2) from None


def _logging(settings: Settings) -> dict[str, Any]:
    """One format for every line (TAMAS_LOG_FORMAT); the configuration, for uvicorn."""
    from app import logs

    return logs.configure(settings.log_level, settings.log_format)


def _with_db(work: Callable[..., Awaitable[T]], *, migrate: bool = True) -> T:
    """Open the database (embedded or configured; migrated unless told otherwise), run
    ``work(db)``, close."""
    from app.db import Database

    settings = _settings()
    _logging(settings)

    async def run() -> T:
        db = await Database(settings).open(migrate=migrate)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run the API and pages (uvicorn). Migrations run at start-up. On SIGTERM or Ctrl-C the
    panels are told to reconnect elsewhere and every event received is stored before the
    process exits (see the README's "Operations")."""
    import uvicorn

    from app.main import create_app
    from app.shutdown import Server

    settings = _settings()
    log_config = _logging(settings)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        log_config=log_config,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ws_per_message_deflate=settings.ws_compression,
    )
    Server(config, app.state).run()


@cli.command()
def webhooks(
    parent: Annotated[
        int | None, typer.Option(help="stop when this process (tamas serve) is gone")
    ] = None,
) -> None:
    """Deliver webhooks from the outbox, alone (what TAMAS_WEBHOOK_WORKER=process starts;
    with "off", run it yourself: any number of them share the outbox). Stops on SIGTERM,
    putting the deliveries in flight back."""
    from app.integrations.process import run_worker

    settings = _settings()
    _logging(settings)
    asyncio.run(run_worker(settings, parent))


@cli.command()
def migrate(
    check: Annotated[
        bool, typer.Option("--check", help="fail if the models and migrations disagree")
    ] = False,
) -> None:
    """Bring the database schema up to date (also done at start-up)."""
    from app.db import Database
    from app.migrate import pending_model_changes, upgrade

    async def work(db: Database) -> list[object]:
        assert db.engine is not None
        await upgrade(db.engine)
        return await pending_model_changes(db.engine) if check else []

    settings = _settings()
    _logging(settings)

    async def run() -> list[object]:
        db = Database(settings)
        await db.open(migrate=False)
        try:
            return await work(db)
        finally:
            await db.close()

    diff = asyncio.run(run())
    if diff:
        typer.echo("the models and the migrations disagree; write a migration for:", err=True)
        for item in diff:
            typer.echo(f"  {item}", err=True)
        raise typer.Exit(1)
    typer.echo("database schema is up to date")


@cli.command()
def makemigration(
    message: Annotated[str, typer.Argument(help="what the migration does, in a few words")],
) -> None:
    """For developers: write a new Alembic migration from what the models changed."""
    from app.migrate import autogenerate, upgrade

    async def work(db: Database) -> None:
        assert db.engine is not None
        await upgrade(db.engine)
        await autogenerate(db.engine, message)

    _with_db(work, migrate=False)


@cli.command()
def reindex(
    batch: Annotated[int, typer.Option(help="customers per transaction", min=1)] = 1000,
) -> None:
    """Rebuild the phonebook's search index (after an upgrade that changes how Persian text
    or numbers are matched; the release notes say when)."""
    from app.customers.service import CustomerService
    from app.db import unit_of_work

    async def work(db: Database) -> int:
        assert db.sessionmaker is not None
        total, last = 0, 0
        while True:
            async with unit_of_work(db.sessionmaker) as session:
                count, last = await CustomerService(session, db.settings).reindex_batch(last, batch)
            if count == 0:
                return total
            total += count

    typer.echo(f"search index rebuilt for {_with_db(work)} customers")


def _read_password(password: str | None, confirm: bool = True) -> str:
    if password is not None:
        return password
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise typer.BadParameter("no password on standard input")
        return line
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@user_cli.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="agent, supervisor or admin")] = "agent",
    full_name: Annotated[str, typer.Option("--name", help="full name")] = "",
    device: Annotated[
        list[str] | None,
        typer.Option("--device", help="PBX device, e.g. PJSIP/1001 (repeat for several)"),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="prompted for when omitted (or read from standard input)"),
    ] = None,
) -> None:
    """Create a user. The password is asked for (never echoed)."""
    from app.db import unit_of_work
    from app.errors import DomainError
    from app.users.schemas import UserCreate
    from app.users.service import UserService

    try:
        data = UserCreate.model_validate(
            {
                "username": username,
                "password": _read_password(password),
                "role": role,
                "full_name": full_name,
                "devices": device or [],
            }
        )
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(
                f"{err['loc'][0]}: {str(err['msg']).removeprefix('Value error, ')}", err=True
            )
        raise typer.Exit(2) from None

    async def work(db: Database) -> str:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            user = await UserService(session).create(data)
            return f"created {user.role} {user.username} (id {user.id})"

    try:
        typer.echo(_with_db(work))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@user_cli.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[str | None, typer.Option(help="prompted for when omitted")] = None,
) -> None:
    """Set a user's password; the user is signed out everywhere."""
    from app.db import unit_of_work
    from app.errors import DomainError
    from app.users.schemas import PasswordSet
    from app.users.service import UserService

    try:
        new = PasswordSet(password=_read_password(password)).password
    except ValidationError as exc:
        typer.echo(str(exc.errors()[0]["msg"]).removeprefix("Value error, "), err=True)
        raise typer.Exit(2) from None

    async def work(db: Database) -> str:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            service = UserService(session)
            user = await service.get_by_username(username)
            await service.set_password(user.id, new)
            return f"password of {user.username} changed"

    try:
        typer.echo(_with_db(work))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@user_cli.command("list")
def user_list() -> None:
    """List users with their roles and devices."""
    from app.db import unit_of_work
    from app.users.service import UserService

    async def work(db: Database) -> list[str]:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            return [
                f"{u.id:>5}  {u.username:<20} {u.role:<10} "
                f"{'active' if u.is_active else 'inactive':<8} "
                f"{' '.join(d.device for d in u.devices)}"
                for u in await UserService(session).list()
            ]

    for line in _with_db(work):
        typer.echo(line)


@import_cli.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    batch: Annotated[int, typer.Option(help="rows per transaction", min=1)] = 500,
) -> None:
    """Import customers from a CSV file (UTF-8 with or without BOM, or Windows-1256).

    Good rows are imported; bad ones are listed with their line number and reason. Running the
    same file again creates no duplicates.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from app.customers.endpoints import import_report
    from app.customers.importer import in_batches, read_customers
    from app.customers.schemas import ImportReport
    from app.customers.service import CustomerService, ImportCounts
    from app.db import unit_of_work

    size = file.stat().st_size

    async def work(db: Database) -> ImportReport | str:
        assert db.sessionmaker is not None
        counts = ImportCounts()
        with (
            file.open("rb") as stream,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%  {task.fields[rows]} rows"),
                TimeRemainingColumn(),
                transient=True,
                disable=not sys.stderr.isatty(),
            ) as progress,
        ):
            task = progress.add_task("import", total=size, rows=0)
            try:
                parsed = read_customers(
                    stream, on_bytes=lambda n: progress.update(task, completed=n)
                )
            except ValueError as exc:
                return str(exc)
            for rows in in_batches(parsed.rows, batch):
                # One transaction per batch: a large file is not one huge transaction, and
                # an interruption keeps what was done (a re-run skips it).
                async with unit_of_work(db.sessionmaker) as session:
                    await CustomerService(session, db.settings).import_rows(rows, counts)
                progress.update(task, rows=counts.rows)
        return import_report(parsed.encoding, counts, parsed.columns.ignored)

    report = _with_db(work)
    if isinstance(report, str):
        typer.echo(f"error: {report}", err=True)
        raise typer.Exit(2)
    for error in report.errors:
        typer.echo(f"line {error.line}: {error.reason}", err=True)
    if report.ignored_columns:
        typer.echo(f"ignored columns: {', '.join(report.ignored_columns)}", err=True)
    typer.echo(
        f"{report.rows} rows ({report.encoding}): {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.failed} failed"
    )
    if report.failed:
        raise typer.Exit(1)


@cli.command("pbx-sim")
def pbx_sim(
    user: Annotated[str, typer.Option("--user", help="AMI username clients log in with")],
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            envvar="TAMAS_PBX_SIM_SECRET",
            help="AMI secret (or TAMAS_PBX_SIM_SECRET, which keeps it out of the process list)",
            show_default=False,
        ),
    ],
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on (port 0: any)")] = (
        "127.0.0.1:5038"
    ),
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            exists=True,
            dir_okay=False,
            readable=True,
            help="replay this recorded .ami stream (its .ami.idx beside it gives the pacing)",
        ),
    ] = None,
    pace: Annotated[
        str, typer.Option(help="replay pace: recorded, max, or a speed factor such as 10")
    ] = "recorded",
    loop: Annotated[
        bool, typer.Option("--loop", help="replay again and again (the same ids each time)")
    ] = False,
    generate: Annotated[
        bool, typer.Option("--generate", help="generate synthetic calls from the templates")
    ] = False,
    rate: Annotated[float, typer.Option(help="calls per second (--generate)", min=0.001)] = 1.0,
    speed: Annotated[
        float, typer.Option(help="play each call this many times faster than recorded", min=0.001)
    ] = 1.0,
    seed: Annotated[int | None, typer.Option(help="repeatable callers and scenarios")] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="only this scenario (repeat for several; default all)"),
    ] = None,
) -> None:
    """Run a simulated Asterisk PBX that speaks AMI, until Ctrl-C.

    It replays a recorded stream (--replay FILE.ami) to every client that logs in, or
    generates calls (--generate) at --rate calls per second, with Persian and Latin caller
    names and Iranian numbers, in the event shapes of a real Asterisk 22. Point Tamas at it
    as at a PBX. A replay starts when the first client logs in.

    \b
    Examples:
      tamas pbx-sim --user crm --secret S --replay tests/fixtures/ami/04_queue_answered.ami
      tamas pbx-sim --user crm --secret S --generate --rate 2 --seed 1

    Scenarios: direct_answered, direct_missed, direct_busy, queue_answered, queue_abandoned,
    click_to_call, click_to_call_agent_no_answer, click_to_call_customer_busy,
    blind_transfer, attended_transfer.
    """
    from telephony.simulator.runner import RunOptions, parse_listen, parse_pace, run
    from telephony.simulator.templates import SCENARIOS

    if (replay is None) == (not generate):
        raise typer.BadParameter("give either --replay FILE.ami or --generate")
    unknown = sorted(set(scenario or ()) - set(SCENARIOS))
    if unknown:
        raise typer.BadParameter(
            f"unknown scenario(s): {', '.join(unknown)}", param_hint="--scenario"
        )
    try:
        host, port = parse_listen(listen)
        replay_pace = parse_pace(pace)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = RunOptions(
        host=host,
        port=port,
        username=user,
        secret=secret,
        replay=replay,
        pace=replay_pace,
        loop=loop,
        generate=generate,
        rate=rate,
        speed=speed,
        seed=seed,
        scenarios=tuple(scenario or ()),
    )
    asyncio.run(run(options))


@calls_cli.command("export")
def calls_export(
    since: Annotated[
        str | None,
        typer.Option(help="only calls started at or after this (2026-11-01 or 2026-11-01T08:30)"),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Print stored calls with every field of the call model (one JSON object per line, or
    CSV with a header), oldest first. Times are UTC, ISO 8601."""
    from datetime import UTC, datetime

    from app.calls.export import Format, export_calls

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(
                "use 2026-11-01 or 2026-11-01T08:30", param_hint="--since"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)

    chosen: Format = "csv" if fmt == "csv" else "jsonl"

    async def work(db: Database) -> int:
        assert db.sessionmaker is not None
        from app.audit.service import AuditService
        from app.db import unit_of_work

        async with unit_of_work(db.sessionmaker) as session:
            await AuditService(session).record(
                "calls_export", None, actor_name="cli", since=since, format=fmt
            )
        count = 0
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            async for text in export_calls(db.sessionmaker, since=start, fmt=chosen):
                out.write(text)
                count += text.count("\n")
        finally:
            if output:
                out.close()
        return count

    _with_db(work)


@recordings_cli.command("purge")
def recordings_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only say how many would be deleted")
    ] = False,
) -> None:
    """Delete the recordings past their retention (TAMAS_RECORDING_RETENTION_DAYS, per queue
    TAMAS_RECORDING_RETENTION_BY_QUEUE), except those on legal hold. Each deletion is
    audited. The service also does this once an hour."""
    from app.db import unit_of_work
    from recordings.service import RecordingService, storage_for

    settings = _settings()

    async def work(db: Database) -> int:
        assert db.sessionmaker is not None
        total = 0
        while True:
            async with unit_of_work(db.sessionmaker) as session:
                done = await RecordingService(session, settings).purge(
                    storage_for(settings), dry_run=dry_run
                )
            total += len(done)
            if dry_run or len(done) < 500:
                return total

    total = _with_db(work)
    verb = "would be deleted" if dry_run else "deleted"
    typer.echo(f"{total} recordings {verb}")


@recordings_cli.command("check")
def recordings_check() -> None:
    """Look now for the recordings that have not arrived yet (the service does this by
    itself; useful after mounting or syncing the PBX's spool)."""
    from sqlalchemy import func, update

    from app.db import unit_of_work
    from app.models import Recording
    from recordings.service import RecordingService, storage_for

    settings = _settings()

    async def work(db: Database) -> tuple[int, int, int]:
        assert db.sessionmaker is not None
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(
                update(Recording)
                .where(Recording.state == "pending")
                .values(next_check_at=func.now())
            )
        found = missing = waiting = 0
        while True:
            async with unit_of_work(db.sessionmaker) as session:
                checked = await RecordingService(session, settings).check_due(storage_for(settings))
            found += checked.available
            missing += checked.missing
            waiting += checked.waiting
            if checked.available + checked.missing + checked.waiting < 50:
                return found, missing, waiting

    found, missing, waiting = _with_db(work)
    typer.echo(f"{found} found, {missing} missing, {waiting} still pending")


@cli.command()
def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    rate: Annotated[float, typer.Option(help="new simulated calls per second", min=0.001)] = 0.2,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its own database")] = Path(
        "var/demo"
    ),
) -> None:
    """Tamas with a simulated PBX making calls: no Asterisk needed.

    Starts the service on its own embedded database (in var/demo), a PBX simulator on a free
    local port sending realistic calls (mostly answered; many from the demo's customers:
    Persian and Latin names, a VIP, contracts running, running out and run out, open
    cases), recordings with audio (a generated tone), and demo users: agents sara (1001),
    reza (1002) and maryam (1003), and the supervisor boss, all with the password
    "tamas-demo".
    """
    import secrets

    import uvicorn

    from app.config import PbxSettings
    from app.demo import DEMO_SCENARIOS, KNOWN_SHARE, DemoRecordings, demo_callers, seed_customers
    from app.main import create_app
    from telephony.simulator import AmiSimulator

    base = _settings()
    _logging(base)
    secret = secrets.token_urlsafe(16)

    async def run() -> None:
        sim = await AmiSimulator(username="tamas-demo", secret=secret).start()
        settings = base.model_copy(
            update={
                "environment": "development",
                "data_dir": data_dir,
                "pgdata": None,
                "database_url": None,
                "pbxes": [
                    PbxSettings(
                        id="demo",
                        host="127.0.0.1",
                        port=sim.port,
                        username="tamas-demo",
                        secret=SecretStr(secret),
                    )
                ],
            }
        )
        recordings = DemoRecordings(settings)

        async def customers(db: Database) -> None:
            await seed_customers(db, settings)

        app = create_app(
            settings,
            on_startup=[_demo_users, customers, recordings.start],
            on_shutdown=[recordings.stop],
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower())
        )
        traffic = sim.generate(
            rate=rate, scenarios=DEMO_SCENARIOS, known=demo_callers(), known_share=KNOWN_SHARE
        )
        typer.echo(
            f"Tamas demo: the agent panel is on http://{host}:{port}/panel/ (the API on "
            "/docs) - sign in as sara, reza, maryam (agents) or boss (supervisor), password "
            "tamas-demo"
        )
        try:
            await server.serve()
        finally:
            await traffic.stop()
            await sim.stop()

    asyncio.run(run())


DEMO_PASSWORD = "tamas-demo"
DEMO_USERS = (
    ("sara", "Sara Ahmadi", "agent", "PJSIP/1001"),
    ("reza", "Reza Karimi", "agent", "PJSIP/1002"),
    ("maryam", "Maryam Hosseini", "agent", "PJSIP/1003"),
    ("boss", "Demo Supervisor", "supervisor", None),
)


async def _demo_users(db: Database) -> None:
    from app.db import unit_of_work
    from app.users.schemas import UserCreate
    from app.users.service import UserService

    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        service = UserService(session)
        for username, name, role, device in DEMO_USERS:
            if await service.users.get_by_username(username) is None:
                await service.create(
                    UserCreate.model_validate(
                        {
                            "username": username,
                            "password": DEMO_PASSWORD,
                            "role": role,
                            "full_name": name,
                            "devices": [device] if device else [],
                        }
                    )
                )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
