"""The ``tamas`` command against a database of its own on the test session's server."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import cli


def test_help_is_readable() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "user", "import"):
        assert command in result.output


def test_user_add_passwd_list(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "user",
            "add",
            "Ali",
            "--role",
            "agent",
            "--name",
            "علی رضایی",
            "--device",
            "1001",
            "--password",
            "a long secret",
        ],
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    assert "created agent ali" in result.output
    assert "a long secret" not in result.output

    again = runner.invoke(cli, ["user", "add", "ali", "--password", "a long secret"], env=cli_env)
    assert again.exit_code == 1
    assert "taken" in again.output

    bad = runner.invoke(
        cli, ["user", "add", "x y", "--role", "boss", "--password", "short"], env=cli_env
    )
    assert bad.exit_code == 2
    assert "username" in bad.output and "role" in bad.output and "password" in bad.output

    # The password can come on standard input (for scripts).
    passwd = runner.invoke(cli, ["user", "passwd", "ali"], input="another secret\n", env=cli_env)
    assert passwd.exit_code == 0, passwd.output
    assert "another secret" not in passwd.output
    missing = runner.invoke(
        cli, ["user", "passwd", "nobody"], input="another secret\n", env=cli_env
    )
    assert missing.exit_code == 1
    assert "not found" in missing.output

    listing = runner.invoke(cli, ["user", "list"], env=cli_env)
    assert listing.exit_code == 0
    assert "ali" in listing.output and "PJSIP/1001" in listing.output


def test_migrate_check(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["migrate", "--check"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_reindex_rebuilds_search_keys(cli_env: dict[str, str]) -> None:
    import asyncio

    from sqlalchemy import text as sql
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db import async_url

    runner = CliRunner()
    csv_rows = "name,mobile\nعلی کریمی,09121234567\nسارا,09351234567\n"

    async def break_index() -> None:
        engine = create_async_engine(async_url(cli_env["TAMAS_DATABASE_URL"]))
        async with engine.begin() as conn:
            await conn.execute(sql("UPDATE customers SET search_vector = '', sort_key = ''"))
        await engine.dispose()

    async def found(word: str) -> int:
        engine = create_async_engine(async_url(cli_env["TAMAS_DATABASE_URL"]))
        async with engine.connect() as conn:
            n = await conn.scalar(
                sql("SELECT count(*) FROM customers WHERE search_vector @@ CAST(:q AS tsquery)"),
                {"q": f"'{word}':*"},
            )
        await engine.dispose()
        return int(n or 0)

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text(csv_rows, encoding="utf-8")
        assert runner.invoke(cli, ["import", "customers", str(path)], env=cli_env).exit_code == 0
    asyncio.run(break_index())
    assert asyncio.run(found("کریمی")) == 0
    result = runner.invoke(cli, ["reindex", "--batch", "1"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "rebuilt for" in result.output
    assert asyncio.run(found("کریمی")) == 1
    assert asyncio.run(found("1234567")) >= 2


def test_recordings_commands(cli_env: dict[str, str], tmp_path: object) -> None:
    """Nothing to do on an empty database, said plainly."""
    runner = CliRunner()
    env = {
        **cli_env,
        "TAMAS_RECORDINGS_ROOT": str(tmp_path),
        "TAMAS_RECORDING_RETENTION_DAYS": "30",
    }
    result = runner.invoke(cli, ["recordings", "purge", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "0 recordings would be deleted" in result.output
    result = runner.invoke(cli, ["recordings", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "0 found, 0 missing, 0 still pending" in result.output
