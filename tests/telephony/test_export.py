"""``tamas calls export`` on stored calls."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.db import Database
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
