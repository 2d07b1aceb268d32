"""The lookups the dialplan makes: the URLs it builds answered by Tamas, and the AGI script
run against a live Tamas with the AGI conversation played on its stdin and stdout."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx

from tests.asterisk_dev.support import (
    AGI,
    ETC,
    LOOKUP_KEYS,
    TOKEN,
    Dialplan,
    People,
    check,
    split_top,
)


def hashcompat(body: str) -> dict[str, str]:
    """What CURLOPT(hashcompat)=yes leaves in HASH(): split at & and =, %XX decoded."""
    return {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in body.split("&"))}


def curl_url(plan: Dialplan, context: str, values: dict[str, str]) -> str:
    """The URL the CURL() of a context asks for, its variables filled in as Asterisk would."""
    (step,) = [s for s in plan.contexts[context]["s"] if "CURL(" in s.args]
    template = step.args[step.args.index("CURL(") + 5 :]
    template = split_top(template, ")")[0]  # up to CURL()'s own closing parenthesis
    template = re.sub(
        r"\$\{URIENCODE\(\$\{([\w()]+)\}\)\}", lambda m: quote(values[m[1]], safe=""), template
    )
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], template)


def auth_header(token: str) -> tuple[str, str]:
    """The header [tamas-auth] adds, with Asterisk's environment holding ``token``: its
    Exec() substituted as Asterisk does it, twice (check.py's dialplan emulator)."""
    run = check.DialplanRun(
        check.Dialplan.read(ETC / "extensions.conf"), {"TAMAS_PBX_TOKEN": token}
    )
    (step,) = [s for s in run.plan.steps["tamas-auth"] if s.app == "Exec"]
    first, _ = run.substitute(step.args, {})
    assert token not in first  # what Newexten shows
    app, _, inner = first.partition("(")
    name, _, header = run.substitute(inner.rpartition(")")[0], {})[0].partition("=")
    assert (app, name) == ("Set", "CURLOPT(httpheader)")
    key, _, value = header.partition(": ")
    return key, value


async def test_tamas_answers_the_urls_the_dialplan_builds(
    plan: Dialplan, people: People, client: httpx.AsyncClient
) -> None:
    values = {"TAMAS_URL": "http://tamas.test"}
    name, value = auth_header(TOKEN)
    assert (name, value) == ("Authorization", f"Bearer {TOKEN}")

    for number in ("09121234567", "+989121234567", "989121234567"):
        url = curl_url(plan, "tamas-lookup", values | {"ARG1": number, "ARG2": "02191001000"})
        r = await client.get(url, headers={name: value})
        got = hashcompat(r.text)
        assert got["found"] == "1" and got["customer_id"] == str(people.vip_id)
        assert got["name"] == "مهندس «پارسا», شرکت آلفا" and got["number"] == number
        assert (got["vip"], got["contract"], got["agent_extension"]) == ("1", "expired", "1001")
    url = curl_url(plan, "tamas-lookup", values | {"ARG1": "anonymous", "ARG2": ""})
    assert hashcompat((await client.get(url, headers={name: value})).text)["found"] == "0"

    url = curl_url(plan, "tamas-tracking-lookup", values | {"ARG1": people.code})
    got = hashcompat((await client.get(url, headers={name: value})).text)
    assert (got["valid"], got["found"], got["status"], got["owner_extension"]) == (
        "1", "1", "open", "1002",
    )  # fmt: skip
    mistyped = people.code[:-1] + str((int(people.code[-1]) + 1) % 10)
    url = curl_url(plan, "tamas-tracking-lookup", values | {"ARG1": mistyped})
    assert hashcompat((await client.get(url, headers={name: value})).text)["valid"] == "0"

    # The survey after the agent hung up: the call named by its linkedid, the keys pressed.
    survey = values | {"CHANNEL(linkedid)": people.linkedid, "ARG1": "4", "ARG2": "5"}
    url = curl_url(plan, "tamas-survey-post", survey)
    got = hashcompat((await client.get(url, headers={name: value})).text)
    assert (got["found"], got["stored"], got["valid"], got["refused"]) == ("1", "2", "2", "")
    url = curl_url(plan, "tamas-survey-post", survey | {"ARG1": "8", "ARG2": ""})
    got = hashcompat((await client.get(url, headers={name: value})).text)
    assert (got["found"], got["stored"], got["refused"]) == ("1", "0", "q1")

    # What a refused token leaves in HASH(): no "found", so TAMAS_LOOKUP=failed.
    url = curl_url(plan, "tamas-lookup", values | {"ARG1": "09121234567", "ARG2": ""})
    r = await client.get(url, headers=dict([auth_header("wrong")]))
    assert r.status_code == 401 and "found" not in hashcompat(r.text)


@dataclass
class AgiRun:
    sets: dict[str, str]
    verbose: list[str]
    commands: list[str]
    seconds: float
    returncode: int | None


def agi_unquote(arg: str) -> str:
    assert arg.startswith('"') and arg.endswith('"'), arg
    return re.sub(r"\\(.)", r"\1", arg[1:-1])


async def run_agi(
    args: list[str],
    channel: dict[str, str],
    *,
    token: str | None = TOKEN,
    conf: Path | None = None,
) -> AgiRun:
    """Play Asterisk: the AGI environment on stdin, then an answer to each command. The
    script inherits Asterisk's environment: TAMAS_PBX_TOKEN=``token`` in it (unless None),
    and ``conf`` as the file it reads otherwise."""
    started = time.monotonic()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TAMAS_")}
    if token is not None:
        environ["TAMAS_PBX_TOKEN"] = token
    environ["TAMAS_UPLOAD_CONF"] = str(conf or "/nonexistent/tamas-upload.conf")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGI),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=environ,
    )
    assert proc.stdin is not None and proc.stdout is not None
    env = {
        "agi_request": "tamas-lookup",
        "agi_channel": "PJSIP/trunk-00000007",
        "agi_language": "fa",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1763900000.7",
        "agi_version": "22.5.0",
        "agi_callerid": "09121234567",
        "agi_calleridname": "unknown",
        "agi_context": "tamas-lookup",
        "agi_extension": "s",
        "agi_priority": "5",
        "agi_enhanced": "0.0",
        "agi_threadid": "140000000000000",
    } | {f"agi_arg_{i}": a for i, a in enumerate(args, 1)}
    proc.stdin.write(("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n").encode())
    sets: dict[str, str] = {}
    verbose: list[str] = []
    commands: list[str] = []
    while line := (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().rstrip("\n"):
        commands.append(line)
        if m := re.fullmatch(r"GET VARIABLE (\S+)", line):
            answer = f"200 result=1 ({channel[m[1]]})" if m[1] in channel else "200 result=0"
        elif m := re.fullmatch(r"SET VARIABLE (\S+) (\".*\")", line):
            sets[m[1]] = agi_unquote(m[2])
            answer = "200 result=1"
        elif m := re.fullmatch(r"VERBOSE (\".*\") 1", line):
            verbose.append(agi_unquote(m[1]))
            answer = "200 result=1"
        else:
            answer = "510 Invalid or unknown command"
        proc.stdin.write(answer.encode() + b"\n")
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 10)
    return AgiRun(sets, verbose, commands, time.monotonic() - started, proc.returncode)


async def test_the_agi_script_sets_what_the_dialplan_reads(
    plan: Dialplan, people: People, live: str
) -> None:
    channel = {"TAMAS_URL": live}
    run = await run_agi(["caller", "+989121234567", "02191001000"], channel)
    assert run.returncode == 0 and run.verbose == []
    assert run.sets.pop("TAMAS_LOOKUP") == "ok"
    got = {k.removeprefix("HASH(tamas,").removesuffix(")"): v for k, v in run.sets.items()}
    assert set(got) == LOOKUP_KEYS  # every key, under the names the dialplan reads
    assert got["name"] == "مهندس «پارسا», شرکت آلفا" and got["customer_id"] == str(people.vip_id)
    assert (got["vip"], got["contract"], got["agent_extension"]) == ("1", "expired", "1001")
    # A name with quotes and commas crosses AGI's quoting intact.
    assert 'SET VARIABLE HASH(tamas,name) "مهندس «پارسا», شرکت آلفا"' in run.commands

    run = await run_agi(["caller", "anonymous"], channel)
    assert run.sets["TAMAS_LOOKUP"] == "ok" and run.sets["HASH(tamas,found)"] == "0"

    run = await run_agi(["tracking", people.code], channel)
    assert run.sets.pop("TAMAS_TRACKING") == "ok"
    got = {k.removeprefix("HASH(tamas_code,").removesuffix(")"): v for k, v in run.sets.items()}
    assert (got["valid"], got["found"], got["status"], got["owner_extension"]) == (
        "1", "1", "open", "1002",
    )  # fmt: skip
    run = await run_agi(["tracking", people.closed_code], channel)
    assert run.sets["HASH(tamas_code,status)"] == "closed"
    run = await run_agi(["tracking", "1234"], channel)
    assert run.sets["HASH(tamas_code,valid)"] == "0"

    # The queue callback: a POST of the caller's number and queue.
    run = await run_agi(["callback", "09351112233", "support"], channel)
    assert run.returncode == 0 and run.verbose == []
    got = {k.removeprefix("HASH(tamas_callback,").removesuffix(")"): v for k, v in run.sets.items()}
    assert (got["booked"], got["number"], got["queue"], got["requests"]) == (
        "1", "09351112233", "support", "1",
    )  # fmt: skip
    run = await run_agi(["callback", "anonymous", "support"], channel)
    assert run.sets["HASH(tamas_callback,booked)"] == "0"

    # The survey: the keys pressed after the agent hung up, the first one only here.
    run = await run_agi(["survey", people.linkedid, "5", ""], channel)
    assert run.returncode == 0 and run.verbose == []
    assert run.sets.pop("TAMAS_SURVEYED") == "ok"
    got = {k.removeprefix("HASH(tamas_survey,").removesuffix(")"): v for k, v in run.sets.items()}
    assert (got["found"], got["stored"], got["valid"]) == ("1", "1", "1")


async def test_the_agi_script_gives_up_quickly_and_says_why(people: People, live: str) -> None:
    wrong = await run_agi(["caller", "09121234567"], {"TAMAS_URL": live}, token="nope")
    assert wrong.sets == {"TAMAS_LOOKUP": "failed"} and "401" in wrong.verbose[0]

    unset = await run_agi(["caller", "09121234567"], {})
    assert unset.sets == {"TAMAS_LOOKUP": "failed"} and "TAMAS_URL" in unset.verbose[0]
    # The channel's variables never carry the token: the script does not even ask.
    asked = [c for c in wrong.commands + unset.commands if c.startswith("GET VARIABLE")]
    assert asked and not any("TOKEN" in c for c in asked)
    no_token = await run_agi(["caller", "09121234567"], {"TAMAS_URL": live}, token=None)
    assert no_token.sets == {"TAMAS_LOOKUP": "failed"}
    assert "TAMAS_PBX_TOKEN" in no_token.verbose[0]

    # Nothing listening.
    closed = urlsplit(live)._replace(netloc="127.0.0.1:1").geturl()
    refused = await run_agi(["tracking", people.code], {"TAMAS_URL": closed})
    assert refused.sets == {"TAMAS_TRACKING": "failed"} and refused.seconds < 2

    # A Tamas that accepts the connection and never answers: 2 s, then the call goes on.
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        slow = await run_agi(["caller", "09121234567"], {"TAMAS_URL": f"http://127.0.0.1:{port}"})
    finally:
        server.close()
    assert slow.sets == {"TAMAS_LOOKUP": "failed"} and 1.9 < slow.seconds < 4
    assert slow.returncode == 0

    usage = await run_agi([], {})
    assert usage.sets == {} and "usage" in usage.verbose[0]


async def test_the_agi_script_reads_the_token_from_the_shared_file(
    people: People, live: str, tmp_path: Path
) -> None:
    """Without TAMAS_PBX_TOKEN in Asterisk's environment: the file bin/tamas-upload reads."""
    conf = tmp_path / "tamas-upload.conf"
    conf.write_text(f"TAMAS_URL={live}\nTAMAS_PBX_TOKEN='{TOKEN}'\n")
    run = await run_agi(["caller", "09121234567"], {"TAMAS_URL": live}, token=None, conf=conf)
    assert run.sets["TAMAS_LOOKUP"] == "ok" and run.sets["HASH(tamas,found)"] == "1"
