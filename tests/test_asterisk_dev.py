"""The dialplan samples in asterisk-dev/: extensions_tamas.conf read by a small checker of
our own (syntax, every Goto/Gosub lands, every HASH() key read is one Tamas answers, CURL()
bounded in time), the URLs it builds answered by Tamas, and the AGI script run against a
live Tamas with the AGI conversation played on its stdin and stdout."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.models import Contract, Role
from app.pbx.service import CallerInfo
from app.tracking.service import TrackingService
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
