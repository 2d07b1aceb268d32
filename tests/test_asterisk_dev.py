"""asterisk-dev/, the Asterisk Tamas is developed against.

The dialplan samples: extensions_tamas.conf read by a small checker of our own (syntax, every
Goto/Gosub lands, every HASH() key read is one Tamas answers, CURL() bounded in time), the
URLs it builds answered by Tamas, and the AGI script run against a live Tamas with the AGI
conversation played on its stdin and stdout.

The development PBX (compose.yaml, etc/asterisk/*.conf): asterisklint (PyPI) on the whole
dialplan, asterisk-dev/check.py's Asterisk-aware checks (pjsip references, queue members and
options, includes, queues, the AMI user), the AMI user's classes against the actions Tamas's
code sends and the events it reads (their classes taken from the real Asterisk traces),
Tamas's click-to-call defaults landing in the dialplan, compose.yaml wiring both containers
together, and the recording upload script run against a live Tamas. Each checker is shown a
broken copy and must say what is wrong."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.models import Contract, Role
from app.originations.service import OriginationService
from app.pbx.service import CallerInfo
from app.tracking.service import TrackingService
from telephony import members, protocol
from telephony.tracker import CallTracker
from tests.fixtures.factories import make_customer, make_user

ROOT = Path(__file__).resolve().parents[1] / "asterisk-dev"
CONF = ROOT / "etc" / "asterisk" / "extensions_tamas.conf"
AGI = ROOT / "agi" / "tamas-lookup"
TOKEN = "pbx-token-for-the-dialplan-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

APPS = {
    "AGI", "Answer", "Dial", "ExecIf", "Gosub", "Goto", "GotoIf", "Hangup", "NoOp", "Playback",
    "Queue", "Read", "Return", "Ringing", "SayDigits", "Set",
}  # fmt: skip
JUMPS = {"Goto", "GotoIf", "Gosub"}
LOOKUP_KEYS = {key for key, _ in CallerInfo(found=False, number="").pairs()}


# -- a small dialplan reader --------------------------------------------------------------------


@dataclass
class Step:
    line: int
    priority: str  # "1" or "n"
    label: str
    app: str
    args: str


@dataclass
class Dialplan:
    contexts: dict[str, dict[str, list[Step]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def strip_comment(line: str) -> str:
    out = re.split(r"(?<!\\);", line, maxsplit=1)[0]
    return out.strip()


def split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside (), [] and {}."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == sep and depth == 0:
            parts.append(current)
            current = ""
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        current += ch
    return [*parts, current]


def balanced(text: str) -> bool:
    stack: list[str] = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}" and (not stack or "([{"[")]}".index(ch)] != stack.pop()):
            return False
    return not stack


def read_dialplan(text: str) -> Dialplan:
    plan = Dialplan()
    context: str | None = None
    exten: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        if m := re.fullmatch(r"\[([A-Za-z0-9_-]+)\]", line):
            context, exten = m[1], None
            if context in plan.contexts:
                plan.problems.append(f"{n}: context [{context}] twice")
            plan.contexts[context] = {}
            continue
        if context is None:
            plan.problems.append(f"{n}: outside any context: {line}")
            continue
        if m := re.fullmatch(r"exten\s*=>\s*([^,]+),([^,]+),(.*)", line):
            exten, priority, body = m[1].strip(), m[2].strip(), m[3]
            if exten in plan.contexts[context]:
                plan.problems.append(f"{n}: extension {exten} twice in [{context}]")
            plan.contexts[context][exten] = []
        elif m := re.fullmatch(r"same\s*=>\s*([^,]+),(.*)", line):
            priority, body = m[1].strip(), m[2]
            if exten is None:
                plan.problems.append(f"{n}: 'same =>' before any 'exten =>'")
                continue
        else:
            plan.problems.append(f"{n}: neither exten => nor same =>: {line}")
            continue
        pm = re.fullmatch(r"(\d+|n)(?:\(([A-Za-z0-9_-]+)\))?", priority)
        am = re.fullmatch(r"([A-Za-z]+)\((.*)\)", body.strip())
        if pm is None or am is None or not balanced(body):
            plan.problems.append(f"{n}: cannot read priority or application: {line}")
            continue
        steps = plan.contexts[context][exten]
        if not steps and pm[1] != "1":
            plan.problems.append(f"{n}: {exten}@{context} does not start at priority 1")
        if steps and pm[1] != "n":
            plan.problems.append(f"{n}: numbered priority after the first: use n")
        if am[1] not in APPS:
            plan.problems.append(f"{n}: unknown application {am[1]}")
        if body.count("${") + body.count("$[") > body.count("}") + body.count("]"):
            plan.problems.append(f"{n}: unclosed ${{ or $[")
        steps.append(Step(n, pm[1], pm[2] or "", am[1], am[2]))
    return plan


def jumps(step: Step) -> list[str]:
    """The targets of a Goto, GotoIf or Gosub (its arguments stripped)."""
    if step.app == "GotoIf":
        _, _, branches = step.args.partition("?")
        return [t for t in split_top(branches, ":") if t]
    if step.app in ("Goto", "Gosub"):
        return [step.args]
    return []


def resolve(plan: Dialplan, context: str, exten: str, target: str) -> str | None:
    """Why ``target`` (label | exten,priority | context,exten,priority) lands nowhere."""
    parts = [p.strip() for p in split_top(target, ",")]
    parts[-1] = parts[-1].split("(", 1)[0]  # Gosub's arguments
    if len(parts) > 3 or any("${" in p for p in parts):
        return f"cannot check {target!r}"
    ctx, ext, prio = {1: [context, exten, *parts], 2: [context, *parts], 3: parts}[len(parts)]
    if ctx not in plan.contexts:
        return f"no context [{ctx}]"
    if ext not in plan.contexts[ctx]:
        return f"no extension {ext} in [{ctx}]"
    steps = plan.contexts[ctx][ext]
    if prio.isdigit():
        return None if int(prio) <= len(steps) else f"no priority {prio} in {ext}@{ctx}"
    return None if any(s.label == prio for s in steps) else f"no label {prio} in {ext}@{ctx}"


@pytest.fixture(scope="module")
def plan() -> Dialplan:
    return read_dialplan(CONF.read_text())


def settings_of(plan: Dialplan) -> dict[str, str]:
    """What [tamas-settings] sets: name -> value as written."""
    out: dict[str, str] = {}
    for step in plan.contexts["tamas-settings"]["s"]:
        if step.app == "Set":
            name, _, value = step.args.partition("=")
            out[name] = value
    return out


# -- the dialplan, statically ---------------------------------------------------------------------


def test_the_dialplan_reads_cleanly(plan: Dialplan) -> None:
    assert plan.problems == []
    assert set(plan.contexts) == {
        "tamas-settings", "tamas-inbound", "tamas-lookup", "tamas-destinations",
        "tamas-tracking", "tamas-tracking-lookup",
    }  # fmt: skip
    # Includable from extensions.conf or extensions_custom.conf: only its own contexts.
    assert all(c.startswith("tamas-") for c in plan.contexts)


def test_every_goto_and_gosub_lands(plan: Dialplan) -> None:
    checked = 0
    for context, extens in plan.contexts.items():
        for exten, steps in extens.items():
            for step in steps:
                for target in jumps(step):
                    problem = resolve(plan, context, exten, target)
                    assert problem is None, f"line {step.line}: {step.app}({step.args}): {problem}"
                    checked += 1
    assert checked > 20
    # A subroutine returns on each of its paths: the CURL() one ends before the AGI one.
    for name in ("tamas-settings", "tamas-lookup", "tamas-tracking-lookup"):
        steps = plan.contexts[name]["s"]
        assert steps[-1].app == "Return"
        assert all(steps[i - 1].app == "Return" for i, s in enumerate(steps) if s.label == "agi")


async def test_the_checker_sees_mistakes() -> None:
    text = CONF.read_text()
    broken = read_dialplan(
        text.replace("Playback(please-try-again)", "Playbak(please-try-again)", 1)
        .replace(" same => n,Set(TAMAS_SETTINGS=done)", " same => 2,Set(TAMAS_SETTINGS=done)")
        .replace("Goto(ask)", "Goto(ask")
        + "\n[tamas-extra]\n same => n,NoOp()\n"
    )
    assert [p.split(": ", 1)[1][:30] for p in broken.problems] == [
        "numbered priority after the fi",
        "unknown application Playbak",
        "cannot read priority or applic",
        "'same =>' before any 'exten =>",
    ]
    plan = read_dialplan(text.replace("?tamas-destinations,vip,1", "?tamas-destination,vip,1"))
    (step,) = [s for s in plan.contexts["tamas-inbound"]["s"] if "tamas-destination," in s.args]
    assert resolve(plan, "tamas-inbound", "s", jumps(step)[0]) == "no context [tamas-destination]"
    assert resolve(plan, "tamas-tracking", "s", "nowhere") == "no label nowhere in s@tamas-tracking"
    assert resolve(plan, "tamas-inbound", "s", "tamas-destinations,vp,1") == (
        "no extension vp in [tamas-destinations]"
    )


async def test_every_hash_key_read_is_one_tamas_answers(
    plan: Dialplan, people: People, client: httpx.AsyncClient
) -> None:
    tracking: set[str] = set()
    for code in (people.code, "12345678", "1234"):  # found, not found, mistyped
        r = await client.get(f"/pbx/tracking?code={code}&format=json", headers=AUTH)
        tracking |= set(r.json())
    used: dict[str, set[str]] = {"tamas": set(), "tamas_code": set()}
    for extens in plan.contexts.values():
        for steps in extens.values():
            for step in steps:
                for hash_name, key in re.findall(r"HASH\((\w+),(\w+)\)", step.args):
                    used[hash_name].add(key)
    assert used["tamas"] <= LOOKUP_KEYS
    assert used["tamas_code"] <= tracking
    assert {"found", "name", "vip", "contract", "agent_extension"} <= used["tamas"]
    assert {"valid", "found", "status", "owner_extension"} <= used["tamas_code"]


def test_curl_never_holds_a_call(plan: Dialplan) -> None:
    conf = settings_of(plan)
    assert float(conf["CURLOPT(conntimeout)"]) <= 1
    assert float(conf["CURLOPT(httptimeout)"]) <= 2
    assert conf["CURLOPT(hashcompat)"] == "yes"
    assert conf["CURLOPT(httpheader)"] == "Authorization: Bearer ${TAMAS_TOKEN}"
    curls = 0
    for context, extens in plan.contexts.items():
        for exten, steps in extens.items():
            for i, step in enumerate(steps):
                if "CURL(" not in step.args:
                    continue
                curls += 1
                # The options are set on the channel first, and a failure is told apart.
                before = [s.args for s in steps[:i] if s.app == "Gosub"]
                assert any(a.startswith("tamas-settings,") for a in before), (context, exten)
                assert step.args.startswith("HASH(") and "format=hash" in step.args
                assert "TAMAS_LOOKUP" in steps[i + 1].args or "TAMAS_TRACKING" in steps[i + 1].args
    assert curls == 2
    # Every call that Tamas cannot answer still reaches the normal queue.
    inbound = [s.args for s in plan.contexts["tamas-inbound"]["s"]]
    assert '$["${TAMAS_LOOKUP}" != "ok"]?tamas-destinations,queue,1' in inbound


# -- the URLs it builds, answered by Tamas --------------------------------------------------------


@pytest.fixture
async def pbx_settings(app: FastAPI, settings: Settings) -> AsyncIterator[Settings]:
    pbx = PbxSettings(
        id="pbx1",
        host="127.0.0.1",
        port=1,
        username="u",
        secret=SecretStr("s"),
        token=SecretStr(TOKEN),
    )
    conf = settings.model_copy(update={"pbxes": [pbx]})
    app.state.settings = conf
    yield conf
    app.state.settings = settings


@dataclass(frozen=True)
class People:
    vip_id: int
    code: str  # an open case owned by the agent at PJSIP/1002
    closed_code: str


@pytest.fixture
async def people(session: AsyncSession, pbx_settings: Settings) -> People:
    """A VIP whose contract ended, assigned to the agent at 1001; a case owned by 1002."""
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002", "SIP/soft1002"])
    vip = await make_customer(
        session, pbx_settings, "مهندس «پارسا», شرکت آلفا", ("09121234567",), priority="VIP"
    )
    vip.owner_id = sara.id
    today = date.today()
    session.add(
        Contract(
            customer_id=vip.id,
            level="gold",
            starts_on=today - timedelta(days=400),
            ends_on=today - timedelta(days=35),
        )
    )
    cases = TrackingService(session, pbx_settings)
    case = await cases.issue(by=reza, customer_id=vip.id)
    closed = await cases.issue(by=reza, customer_id=vip.id)
    closed.status = "closed"
    await session.flush()
    return People(vip.id, case.code, closed.code)


def hashcompat(body: str) -> dict[str, str]:
    """What CURLOPT(hashcompat)=yes leaves in HASH(): split at & and =, %XX decoded."""
    return {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in body.split("&"))}


def curl_url(plan: Dialplan, context: str, values: dict[str, str]) -> str:
    """The URL the CURL() of a context asks for, its variables filled in as Asterisk would."""
    (step,) = [s for s in plan.contexts[context]["s"] if "CURL(" in s.args]
    template = step.args[step.args.index("CURL(") + 5 :]
    template = split_top(template, ")")[0]  # up to CURL()'s own closing parenthesis
    template = re.sub(
        r"\$\{URIENCODE\(\$\{(\w+)\}\)\}", lambda m: quote(values[m[1]], safe=""), template
    )
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], template)


async def test_tamas_answers_the_urls_the_dialplan_builds(
    plan: Dialplan, people: People, client: httpx.AsyncClient
) -> None:
    conf = settings_of(plan)
    values = {"TAMAS_URL": "http://tamas.test", "TAMAS_AUTH": conf["TAMAS_AUTH"]}
    header = conf["CURLOPT(httpheader)"].replace("${TAMAS_TOKEN}", TOKEN)
    name, _, value = header.partition(": ")

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

    # Without CURLOPT(httpheader): the commented-out alternative, the token in the URL.
    (alternative,) = re.findall(r"^\s*;same => n,Set\(TAMAS_AUTH=(.*)\)$", CONF.read_text(), re.M)
    values["TAMAS_AUTH"] = alternative.replace("${TAMAS_TOKEN}", TOKEN)
    url = curl_url(plan, "tamas-lookup", values | {"ARG1": "09121234567", "ARG2": ""})
    assert hashcompat((await client.get(url)).text)["found"] == "1"
    # And what a refused token leaves in HASH(): no "found", so TAMAS_LOOKUP=failed.
    values["TAMAS_AUTH"] = "&token=wrong"
    url = curl_url(plan, "tamas-lookup", values | {"ARG1": "09121234567", "ARG2": ""})
    r = await client.get(url)
    assert r.status_code == 401 and "found" not in hashcompat(r.text)


# -- the AGI script, against a live Tamas -------------------------------------------------------


@pytest.fixture
async def live(app: FastAPI, session: AsyncSession, pbx_settings: Settings) -> AsyncIterator[str]:
    """The test app on a real port (its requests join the test's transaction)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await task


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


async def run_agi(args: list[str], channel: dict[str, str]) -> AgiRun:
    """Play Asterisk: the AGI environment on stdin, then an answer to each command."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGI),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
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
    channel = {"TAMAS_URL": live, "TAMAS_TOKEN": TOKEN}
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


async def test_the_agi_script_gives_up_quickly_and_says_why(people: People, live: str) -> None:
    wrong = await run_agi(["caller", "09121234567"], {"TAMAS_URL": live, "TAMAS_TOKEN": "nope"})
    assert wrong.sets == {"TAMAS_LOOKUP": "failed"} and "401" in wrong.verbose[0]

    unset = await run_agi(["caller", "09121234567"], {})
    assert unset.sets == {"TAMAS_LOOKUP": "failed"} and "TAMAS_URL" in unset.verbose[0]

    # Nothing listening.
    closed = urlsplit(live)._replace(netloc="127.0.0.1:1").geturl()
    refused = await run_agi(["tracking", people.code], {"TAMAS_URL": closed, "TAMAS_TOKEN": TOKEN})
    assert refused.sets == {"TAMAS_TRACKING": "failed"} and refused.seconds < 2

    # A Tamas that accepts the connection and never answers: 2 s, then the call goes on.
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        slow = await run_agi(
            ["caller", "09121234567"], {"TAMAS_URL": f"http://127.0.0.1:{port}", "TAMAS_TOKEN": "x"}
        )
    finally:
        server.close()
    assert slow.sets == {"TAMAS_LOOKUP": "failed"} and 1.9 < slow.seconds < 4
    assert slow.returncode == 0

    usage = await run_agi([], {})
    assert usage.sets == {} and "usage" in usage.verbose[0]


# -- the development PBX: asterisk-dev/etc/asterisk, compose.yaml -------------------------------

ETC = ROOT / "etc" / "asterisk"
REPO = ROOT.parent
TRACES = REPO / "tests" / "fixtures" / "ami"
UPLOAD = ROOT / "bin" / "tamas-upload"


def _checker() -> Any:
    """asterisk-dev/check.py (a script, not a package: its folder name has a dash)."""
    spec = importlib.util.spec_from_file_location("asterisk_dev_check", ROOT / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = _checker()


@pytest.fixture
def etc_copy(tmp_path: Path) -> Path:
    """A copy of etc/asterisk to break."""
    return Path(shutil.copytree(ETC, tmp_path / "asterisk"))


def edit(path: Path, old: str, new: str, *, last: bool = False) -> None:
    text = path.read_text()
    assert old in text, old
    head, _, tail = text.rpartition(old) if last else text.partition(old)
    path.write_text(head + new + tail)


def asterisklint(command: str, conf_dir: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "asterisklint"
    return subprocess.run(
        [str(exe), command, "extensions.conf"],
        cwd=conf_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_asterisklint_passes_the_whole_dialplan() -> None:
    # extensions.conf with extensions_tamas.conf #included: syntax, priorities, applications
    # and their arguments, functions, every Goto/GotoIf/Gosub target.
    run = asterisklint("dialplan-check", ETC)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_asterisklint_sees_a_broken_dialplan(etc_copy: Path) -> None:
    edit(
        etc_copy / "extensions_tamas.conf", "?tamas-destinations,vip,1", "?tamas-destination,vip,1"
    )
    edit(etc_copy / "extensions.conf", "Dial(PJSIP/${EXTEN},20)", "Dail(PJSIP/${EXTEN},20)")
    edit(etc_copy / "extensions.conf", "Queue(sales,t,,,300)", "Queue(sales,t,,,300")
    run = asterisklint("dialplan-check", etc_copy)
    assert run.returncode != 0
    said = run.stdout + run.stderr
    found = set(re.findall(r"^(extensions(?:_tamas)?\.conf):\d+ (\w+):", said, re.M))
    assert found >= {
        ("extensions_tamas.conf", "E_DP_GOTO_NOCONTEXT"),
        ("extensions.conf", "E_APP_MISSING"),
        ("extensions.conf", "W_APP_BALANCE"),
    }, said


def test_modules_conf_requires_every_module_the_dialplan_uses() -> None:
    run = asterisklint("modules-show", ETC)
    used = set(re.findall(r"^load => (\S+)$", run.stdout, re.M))
    assert {"app_queue.so", "app_mixmonitor.so", "func_curl.so", "app_stack.so"} <= used
    (modules,) = check.read_conf(ETC / "modules.conf")
    preload = set(modules.all("preload-require"))
    required = set(modules.all("require")) | preload
    noload = set(modules.all("noload"))
    # Asterisk refuses to start without them, rather than run a dialplan that cannot work.
    assert used <= required, used - required
    assert not required & noload
    # What asterisklint cannot see: [globals]' ${ENV()} (expanded as pbx_config loads, so
    # loaded before it), CURL()'s library, the Cdr events.
    if "${ENV(" in (ETC / "extensions.conf").read_text():
        assert "func_env.so" in preload
    assert {"res_curl.so", "cdr_manager.so", "chan_pjsip.so"} <= required


def test_the_configs_pass_the_asterisk_aware_checks() -> None:
    assert check.check(ETC) == []
    run = subprocess.run(
        [sys.executable, str(ROOT / "check.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode, run.stdout) == (0, "")


def test_the_checks_see_broken_configs(etc_copy: Path) -> None:
    edit(etc_copy / "pjsip.conf", "aors=1002", "aors=1020")
    edit(etc_copy / "pjsip.conf", "auth=1003\n", "auth=1030\n")
    edit(etc_copy / "pjsip.conf", "context=from-trunk\ndisallow", "context=from-trnk\ndisallow")
    edit(etc_copy / "queues.conf", "persistentmembers=yes", "persistentmembers=yes\nupdatecdr=yes")
    edit(etc_copy / "queues.conf", "strategy=ringall", "strategy=ringsome")
    edit(etc_copy / "queues.conf", "member => PJSIP/1003,", "member => PJSIP/1004,", last=True)
    edit(etc_copy / "extensions.conf", "include => outbound", "include => outbond")
    edit(etc_copy / "extensions.conf", "Dial(PJSIP/1001,20)", "Dial(PJSIP/1010,20)")
    edit(etc_copy / "extensions_tamas.conf", "TAMAS_SALES_QUEUE=sales", "TAMAS_SALES_QUEUE=sale")
    edit(etc_copy / "manager.conf", "read=call,", "read=calls,")
    edit(etc_copy / "manager.conf", "deny=0.0.0.0/0.0.0.0\n", "")
    edit(etc_copy / "rtp.conf", "rtpend=10099", "rtpend=9999")
    problems = check.check(etc_copy)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "[1002] aors=1020: no aor [1020]",
        "[1003] auth=1030: no auth [1030]",
        "endpoint [customer]: no context [from-trnk]",
        "[general] updatecdr: gone since Asterisk 12: use the MEMBERINTERFACE variable "
        "(setinterfacevar)",
        "[support] strategy=ringsome: not a strategy",
        "[support-vip] strategy=ringsome: not a strategy",
        "[sales] strategy=ringsome: not a strategy",
        "[sales] member PJSIP/1004: no such endpoint",
        "[from-internal] includes [outbond], which does not exist",
        "[from-trunk] Dial(PJSIP/1010): no endpoint [1010]",
        "[tamas-settings] queue sale: not in queues.conf",
        "AMI user [tamas]: deny all, then permit Tamas's hosts",
        "AMI user [tamas] read: no class 'calls'",
        "rtpstart 10000 must be below rtpend 9999",
    ]
    assert problems[0].startswith("pjsip.conf:") and problems[10].startswith(
        "extensions_tamas.conf:"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "check.py"), str(etc_copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1 and run.stdout.splitlines() == problems


# -- the AMI user against what Tamas's code does ------------------------------------------------

# The class an AMI action needs (any one of them; none: any logged-in user), from Asterisk
# 22's main/manager.c and apps/app_queue.c. An action Tamas starts sending that is not listed
# fails the test below: look up its class in Asterisk before adding it.
ACTION_CLASSES: dict[str, set[str]] = {
    "Login": set(),
    "Logoff": set(),
    "Ping": set(),
    "QueueStatus": set(),
    "QueueSummary": set(),
    "Originate": {"originate"},
    "QueuePause": {"agent"},
    "QueueAdd": {"agent"},
    "QueueRemove": {"agent"},
    "QueuePenalty": {"agent"},
    "CoreShowChannels": {"system", "reporting"},
    "Status": {"system", "call", "reporting"},
    "Hangup": {"system", "call"},
    "Redirect": {"call"},
    "Setvar": {"call"},
    "Getvar": {"call", "reporting"},
    "Command": {"command"},
}
# Sent by panoramisk itself: the login, and the keep-alive pings (ping_delay/ping_interval).
PANORAMISK_ACTIONS = {"Login", "Ping"}
# The class of events Tamas reads that no recorded trace holds (the traces give the others).
UNTRACED_EVENT_CLASSES = {
    "MixMonitorStop": "call",
    "QueueMemberPause": "agent",
    "QueueMemberAdded": "agent",
    "QueueMemberRemoved": "agent",
    "Shutdown": "system",
}


def actions_in_code() -> set[str]:
    """Every ``{"Action": "..."}`` in Tamas's code (the PBX simulator aside)."""
    found: set[str] = set()
    for package in ("app", "telephony", "recordings", "screenpop"):
        for path in (REPO / package).rglob("*.py"):
            if "simulator" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "Action"
                            and isinstance(value, ast.Constant)
                        ):
                            found.add(str(value.value))
    return found


def events_tamas_reads() -> set[str]:
    """The events the tracker, the queue-member reader and the protocol handle."""
    handlers = CallTracker("dev")._handlers
    return set(handlers) | set(members._EVENTS) | set(protocol._VIA)


def classes_in_traces() -> dict[str, str]:
    """Event name -> its class, from the Privilege: of the real Asterisk's events."""
    out: dict[str, str] = {}
    for path in sorted(TRACES.glob("*.ami")):
        for block in path.read_bytes().decode("utf-8", "replace").split("\r\n\r\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
            if "Event" in fields and "Privilege" in fields:
                out.setdefault(fields["Event"], fields["Privilege"].split(",")[0].lower())
    return out


def ami_problems(conf_dir: Path) -> list[str]:
    """What the AMI user of ``conf_dir``/manager.conf lacks for Tamas, or has beyond it."""
    (user,) = [s for s in check.sections_of(conf_dir / "manager.conf") if s.name != "general"]
    read = {c.strip() for c in user.get("read").split(",") if c.strip()}
    write = {c.strip() for c in user.get("write").split(",") if c.strip()}
    problems: list[str] = []
    sent = actions_in_code() | PANORAMISK_ACTIONS
    for action in sorted(sent):
        needs = ACTION_CLASSES[action]
        if needs and not needs & write:
            problems.append(f"write: {action} needs one of {sorted(needs)}")
    for cls in sorted(write):
        # Needed: some action Tamas sends would be refused without it.
        if not any(ACTION_CLASSES[a] and not ACTION_CLASSES[a] & (write - {cls}) for a in sent):
            problems.append(f"write: {cls} is not needed")
    traced = classes_in_traces()
    needed: dict[str, str] = {}
    for event in sorted(events_tamas_reads()):
        cls = traced.get(event) or UNTRACED_EVENT_CLASSES[event]
        needed.setdefault(cls, event)
        if cls not in read:
            problems.append(f"read: {event} comes in class {cls}")
    problems += [f"read: {cls} is not needed" for cls in sorted(read - needed.keys())]
    return problems


def test_the_ami_user_may_do_what_tamas_does_and_no_more(etc_copy: Path) -> None:
    # The derivations see what they should, and every action has a known class.
    sent = actions_in_code()
    assert {"Originate", "QueuePause", "QueueAdd", "QueueRemove", "CoreShowChannels"} <= sent
    assert "QueueStatus" in sent
    assert not sent - ACTION_CLASSES.keys(), "look up these actions' classes in Asterisk"
    traced = classes_in_traces()
    assert (traced["VarSet"], traced["Cdr"], traced["AgentCalled"]) == ("dialplan", "cdr", "agent")
    assert not UNTRACED_EVENT_CLASSES.keys() & traced.keys(), "the traces have them now"
    assert events_tamas_reads() <= traced.keys() | UNTRACED_EVENT_CLASSES.keys()

    assert ami_problems(ETC) == []

    edit(etc_copy / "manager.conf", "read=call,agent,dialplan,", "read=call,agent,reporting,")
    edit(etc_copy / "manager.conf", "write=originate,agent,reporting", "write=originate,system")
    assert ami_problems(etc_copy) == [
        "write: QueueAdd needs one of ['agent']",
        "write: QueuePause needs one of ['agent']",
        "write: QueueRemove needs one of ['agent']",
        "read: VarSet comes in class dialplan",
        "read: reporting is not needed",
    ]


# -- Tamas's defaults and compose.yaml ------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def with_defaults(text: str) -> str:
    """Compose's ${NAME:-default}, with nothing set in the environment."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m[1], text)


def compose_pbx() -> PbxSettings:
    env = compose()["services"]["tamas"]["environment"]
    (pbx,) = json.loads(with_defaults(env["TAMAS_PBXES"]))
    return PbxSettings.model_validate(pbx)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target in the container -> source."""
    return {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}


async def test_click_to_call_lands_in_the_dialplan(
    session: AsyncSession, settings: Settings
) -> None:
    pbx = compose_pbx()
    default = PbxSettings(id="x", host="h", username="u", secret=SecretStr("s"))
    assert (pbx.originate_context, pbx.dial_template) == (
        default.originate_context,
        default.dial_template,
    )
    plan = check.Dialplan.read(ETC / "extensions.conf")
    service = OriginationService(session, settings)
    for number, context in (
        ("09121234567", "outbound"),
        ("۰۲۱ ۸۸۷۷ ۶۶۵۵", "outbound"),
        ("+98 912 123 4567", "outbound"),
        ("1002", "agents"),
    ):
        dialled = service.target(number, pbx).dialled
        assert check.find_extension(plan, pbx.originate_context, dialled) == context, number
    # The "9{national}" of a trunk wanting a prefix would need its own pattern.
    nine = pbx.model_copy(update={"dial_template": "9{national}"})
    assert (
        check.find_extension(plan, "from-internal", service.target("09121234567", nine).dialled)
        is None
    )
    assert [s.args for s in plan.steps["outbound"] if s.app == "Dial"] == [
        "PJSIP/${EXTEN}@trunk,60"
    ]
    # The agents' phones start their own calls there too.
    for endpoint in check.sections_of(ETC / "pjsip.conf"):
        if endpoint.get("type") == "endpoint" and endpoint.name.isdigit():
            assert endpoint.get("context") == pbx.originate_context


def test_compose_wires_asterisk_and_tamas_together() -> None:
    services = compose()["services"]
    asterisk, tamas = services["asterisk"], services["tamas"]
    # A pinned release of the Asterisk the recorded traces come from.
    image = re.fullmatch(r"andrius/asterisk:(\d+)\.\d+\.\d+_debian-\w+", asterisk["image"])
    traced = re.search(r"real Asterisk (\d+)\.", (TRACES / "README.md").read_text())
    assert image is not None and traced is not None and image[1] == traced[1]
    # Every config of etc/asterisk where Asterisk reads it, and every mounted file there.
    on_asterisk = mounts(asterisk)
    for conf in ETC.glob("*.conf"):
        assert on_asterisk[f"/etc/asterisk/{conf.name}"] == f"./etc/asterisk/{conf.name}"
    for source in on_asterisk.values():
        assert not source.startswith("./") or (ROOT / source).exists(), source
    assert os.access(UPLOAD, os.X_OK) and os.access(AGI, os.X_OK)
    assert on_asterisk["/usr/local/bin/tamas-upload"] == "./bin/tamas-upload"

    # Tamas logs in as manager.conf's user, with its secret, on its port.
    pbx = compose_pbx()
    manager = {s.name: s for s in check.sections_of(ETC / "manager.conf")}
    assert pbx.username in manager and pbx.username != "general"
    assert pbx.secret.get_secret_value() == manager[pbx.username].get("secret")
    assert (pbx.host, pbx.port) == ("asterisk", int(manager["general"].get("port")))
    # Asterisk asks Tamas (the lookup, the uploads) where it listens, with the PBX's token.
    env = {k: with_defaults(str(v)) for k, v in asterisk["environment"].items()}
    url = urlsplit(env["TAMAS_URL"])
    assert (url.hostname, url.port) == ("tamas", int(tamas["environment"]["TAMAS_PORT"]))
    assert pbx.token is not None and pbx.token.get_secret_value() == env["TAMAS_PBX_TOKEN"]
    extensions = (ETC / "extensions.conf").read_text()
    assert "${ENV(TAMAS_URL)}" in extensions and "${ENV(TAMAS_PBX_TOKEN)}" in extensions

    # Recordings: one volume, the PBX's spool and Tamas's root; the dialplan writes there.
    spool = pbx.spool_prefix.rstrip("/")
    root = tamas["environment"]["TAMAS_RECORDINGS_ROOT"]
    assert mounts(tamas)[root] == on_asterisk[spool] and on_asterisk[spool] in compose()["volumes"]
    plan = check.Dialplan.read(ETC / "extensions.conf")
    (rec,) = [s.args for s in plan.steps["sub-record"] if s.args.startswith("TAMAS_REC=")]
    assert rec.removeprefix("TAMAS_REC=").startswith(pbx.spool_prefix)
    queues = {s.name for s in check.sections_of(ETC / "queues.conf")}
    assert set(pbx.login_queues) <= queues

    # The ports the phones and the calls' audio use, as rtp.conf and pjsip.conf set them.
    (rtp,) = check.sections_of(ETC / "rtp.conf")
    start, end = rtp.get("rtpstart"), rtp.get("rtpend")
    assert f"{start}-{end}:{start}-{end}/udp" in asterisk["ports"]
    (transport,) = [
        s for s in check.sections_of(ETC / "pjsip.conf") if s.get("type") == "transport"
    ]
    sip_port = transport.get("bind").rsplit(":", 1)[1]
    assert f"{sip_port}:{sip_port}/udp" in asterisk["ports"]
    # Tamas's image.
    assert tamas["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (REPO / "Dockerfile").exists()


# -- pushing a finished recording ---------------------------------------------------------------


async def run_upload(path: Path, env: dict[str, str]) -> int:
    proc = await asyncio.create_subprocess_exec(str(UPLOAD), str(path), env=os.environ | env)
    return await asyncio.wait_for(proc.wait(), 120)


async def test_the_upload_script_pushes_a_recording_to_tamas(
    live: str, pbx_settings: Settings, tmp_path: Path
) -> None:
    name = "20261124-101500-q-200-09121234567-1795347184.7.wav"
    wav = tmp_path / "monitor" / name
    wav.parent.mkdir()
    wav.write_bytes(b"RIFF" + os.urandom(4000))
    log = tmp_path / "upload.log"
    stored = pbx_settings.recordings_dir / name
    env = {"TAMAS_URL": live, "TAMAS_PBX_TOKEN": TOKEN, "TAMAS_UPLOAD_LOG": str(log)}
    try:
        assert await run_upload(wav, env) == 0
        assert stored.read_bytes() == wav.read_bytes()
        assert not log.exists()
    finally:
        stored.unlink(missing_ok=True)

    # Refused (a wrong token): said in the log, without the token; nothing stored.
    assert await run_upload(wav, env | {"TAMAS_PBX_TOKEN": "not-the-token"}) == 0
    assert not stored.exists()
    written = log.read_text()
    assert "upload failed" in written and "401" in written and "not-the-token" not in written
    # Not configured, or no such file: said too.
    nowhere = str(tmp_path / "no.conf")
    assert await run_upload(wav, env | {"TAMAS_URL": "", "TAMAS_UPLOAD_CONF": nowhere}) == 0
    assert await run_upload(tmp_path / "nothing.wav", env) == 0
    lines = log.read_text().splitlines()
    assert "TAMAS_URL and TAMAS_PBX_TOKEN must be set" in lines[-2]
    assert lines[-1].endswith("nothing.wav: no such file")

    # The settings in a file instead (FreePBX, Issabel: no environment of Asterisk's own).
    conf = tmp_path / "tamas-upload.conf"
    conf.write_text(f"TAMAS_URL={live}\nTAMAS_PBX_TOKEN={TOKEN}\n")
    bare = {"TAMAS_URL": "", "TAMAS_PBX_TOKEN": "", "TAMAS_UPLOAD_LOG": str(log)}
    try:
        assert await run_upload(wav, bare | {"TAMAS_UPLOAD_CONF": str(conf)}) == 0
        assert stored.read_bytes() == wav.read_bytes()
    finally:
        stored.unlink(missing_ok=True)
    assert log.read_text().splitlines() == lines
