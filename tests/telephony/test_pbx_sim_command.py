"""``tamas pbx-sim``: the simulator as a command of its own, run as a real process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from tests.telephony.test_simulator import AMI_DIR, DEADLINE, Client, fields, recorded_stream

ROOT = Path(__file__).resolve().parents[2]
SECRET = "do-not-log-this-7f3a"


def test_help_explains_both_modes() -> None:
    result = CliRunner().invoke(cli, ["pbx-sim", "--help"])
    assert result.exit_code == 0
    for option in ("--listen", "--user", "--secret", "--replay", "--pace", "--generate", "--rate"):
        assert option in result.output


def test_replay_or_generate_not_both() -> None:
    replay = str(AMI_DIR / "A1_persian_name_direct_answered.ami")
    args = ["pbx-sim", "--user", "u", "--secret", "s"]
    for extra in ([], ["--replay", replay, "--generate"]):
        result = CliRunner().invoke(cli, args + extra)
        assert result.exit_code == 2
        assert "--replay" in result.output and "--generate" in result.output
    result = CliRunner().invoke(cli, [*args, "--generate", "--scenario", "nope"])
    assert result.exit_code == 2 and "nope" in result.output


@asynccontextmanager
async def pbx_sim(*args: str) -> AsyncIterator[tuple[int, list[str]]]:
    """Run the command; yield its port and the log lines so far; stop it with SIGINT and
    check it stopped cleanly without ever logging the secret."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "pbx-sim",
        "--listen",
        "127.0.0.1:0",
        "--user",
        "crm",
        *args,
        cwd=ROOT,
        env={**os.environ, "TAMAS_PBX_SIM_SECRET": SECRET},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(DEADLINE):
            while not (found := re.search(r"listening on 127\.0\.0\.1:(\d+)", "".join(lines))):
                line = await process.stderr.readline()
                assert line, "".join(lines)
                lines.append(line.decode())
        yield int(found.group(1)), lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(DEADLINE):
            out, err = await process.communicate()
    lines.append(err.decode())
    log = "".join(lines) + out.decode()
    assert process.returncode == 0, log
    assert "stopped:" in log
    assert SECRET not in log


async def test_generate_serves_calls() -> None:
    async with pbx_sim("--generate", "--rate", "20", "--speed", "1000", "--seed", "5") as (port, _):
        client = await Client.connect(port)
        try:
            client.send("Login", Username="crm", Secret=SECRET, ActionID="l")
            assert fields(await client.message())["Message"] == "Authentication accepted"
            channel = fields(await client.until(lambda raw: raw.startswith(b"Event: Newchannel")))
            assert re.fullmatch(r"PJSIP/\w+-[0-9a-f]{8}", channel["Channel"])
        finally:
            await client.close()


async def test_replay_starts_when_a_client_logs_in() -> None:
    name = "A4_persian_name_queue_answered"
    async with pbx_sim("--replay", str(AMI_DIR / f"{name}.ami"), "--pace", "max") as (port, _):
        client = await Client.connect(port)
        try:
            client.send("Login", Username="crm", Secret=SECRET, ActionID="l")
            await client.message()
            await client.message()  # FullyBooted
            after_login = client.position
            expected = recorded_stream(name)
            received = await client.received(after_login + len(expected))
            assert received[after_login:] == expected
        finally:
            await client.close()
