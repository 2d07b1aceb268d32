"""``tamas calls export`` on stored calls."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.db import Database
from app.models import Recording
from telephony.handlers import CallRecorder
from tests.telephony.replay import replay


@pytest.fixture(scope="module")
async def stored(scratch_db: Database) -> None:
    assert scratch_db.sessionmaker is not None
    for name in ("A1_persian_name_direct_answered", "A4_persian_name_queue_answered"):
        _, events = replay(name)
        await CallRecorder(scratch_db.sessionmaker)(events)


@pytest.mark.usefixtures("stored")
def test_export_jsonl_and_csv(cli_env: dict[str, str]) -> None:
    runner = CliRunner()

    result = runner.invoke(cli, ["calls", "export"], env=cli_env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["caller_name"] for r in rows] == ["علی رضایی", "مریم حسینی"]
    assert rows[1]["queue"] == "support" and rows[1]["outcome"] == "answered"
    assert rows[1]["rings"][0]["extension"] in ("1001", "1002", "1003")
    assert rows[0]["started_at"].startswith("2026-11-22T11:33")

    result = runner.invoke(cli, ["calls", "export", "--format", "csv"], env=cli_env)
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 2 and table[0]["direction"] == "inbound"
    assert json.loads(table[1]["transfers"]) == []

    later = runner.invoke(cli, ["calls", "export", "--since", "2026-11-22T11:33:30"], env=cli_env)
    assert [json.loads(x)["caller_name"] for x in later.stdout.splitlines()] == ["مریم حسینی"]
    bad = runner.invoke(cli, ["calls", "export", "--since", "yesterday"], env=cli_env)
    assert bad.exit_code == 2


def _export(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, ["calls", "export", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.usefixtures("stored")
async def test_export_lists_the_recording_files_of_each_call(
    cli_env: dict[str, str], scratch_db: Database
) -> None:
    """The recording files GET /api/calls/{id} lists, in both formats (issue 21: the export
    said [] for every call)."""
    assert scratch_db.sessionmaker is not None
    async with scratch_db.sessionmaker() as session:
        stored = (await session.execute(select(Recording).order_by(Recording.id))).scalars().all()
    assert stored, "the replayed calls named their MixMonitor files"
    # The command runs its own event loop.
    rows = [json.loads(x) for x in (await asyncio.to_thread(_export, cli_env)).splitlines()]
    assert len(rows) == 2
    for row in rows:
        files = [r for r in stored if r.call_id == row["id"] and r.reported_path]
        assert files, row["caller_name"]
        assert row["recording_files"] == [
            {
                "id": r.id,
                "position": r.position,
                "state": r.state,
                "duration_seconds": r.duration_seconds,
                "content_type": r.content_type,
                "legal_hold": r.legal_hold,
            }
            for r in files
        ]
    table = list(
        csv.DictReader(io.StringIO(await asyncio.to_thread(_export, cli_env, "--format", "csv")))
    )
    assert [json.loads(t["recording_files"]) for t in table] == [r["recording_files"] for r in rows]
