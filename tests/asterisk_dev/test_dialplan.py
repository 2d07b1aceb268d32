"""The dialplan samples, statically: extensions_tamas.conf read by a small checker of our
own (syntax, every Goto/Gosub lands, every HASH() key read is one Tamas answers, CURL()
bounded in time). The checker is shown a broken copy and must say what is wrong."""

from __future__ import annotations

import re

import httpx

from tests.asterisk_dev.support import (
    AUTH,
    CONF,
    LOOKUP_KEYS,
    Dialplan,
    People,
    jumps,
    read_dialplan,
    resolve,
    settings_of,
)


def test_the_dialplan_reads_cleanly(plan: Dialplan) -> None:
    assert plan.problems == []
    assert set(plan.contexts) == {
        "tamas-settings", "tamas-auth", "tamas-inbound", "tamas-lookup", "tamas-destinations",
        "tamas-tracking", "tamas-tracking-lookup", "tamas-spy", "tamas-queue-callback",
        "tamas-callback-request",
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
    for name in (
        "tamas-settings",
        "tamas-auth",
        "tamas-lookup",
        "tamas-tracking-lookup",
        "tamas-callback-request",
    ):
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
    callback: set[str] = set()
    for number in ("09121234567", "anonymous"):  # booked, not booked
        r = await client.post(
            "/pbx/callbacks?format=json", data={"number": number, "queue": "support"}, headers=AUTH
        )
        callback |= set(r.json())
    used: dict[str, set[str]] = {"tamas": set(), "tamas_code": set(), "tamas_callback": set()}
    for extens in plan.contexts.values():
        for steps in extens.values():
            for step in steps:
                for hash_name, key in re.findall(r"HASH\((\w+),(\w+)\)", step.args):
                    used[hash_name].add(key)
    assert used["tamas"] <= LOOKUP_KEYS
    assert used["tamas_code"] <= tracking
    assert used["tamas_callback"] == {"booked"} and "booked" in callback
    assert {"found", "name", "vip", "contract", "agent_extension"} <= used["tamas"]
    assert {"valid", "found", "status", "owner_extension"} <= used["tamas_code"]


def test_curl_never_holds_a_call(plan: Dialplan) -> None:
    conf = settings_of(plan)
    assert float(conf["CURLOPT(conntimeout)"]) <= 1
    assert float(conf["CURLOPT(httptimeout)"]) <= 2
    assert conf["CURLOPT(hashcompat)"] == "yes"
    # The token is not a setting (a channel variable): [tamas-auth] adds the header.
    assert "CURLOPT(httpheader)" not in conf and not any("TOKEN" in k for k in conf)
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
                # The token header is added right before the request, not with the settings.
                assert steps[i - 1].app == "Gosub" and steps[i - 1].args == "tamas-auth,s,1"
                assert step.args.startswith("HASH(") and "format=hash" in step.args
                told = ("TAMAS_LOOKUP", "TAMAS_TRACKING", "TAMAS_CALLBACK")
                assert any(name in steps[i + 1].args for name in told)
    assert curls == 3
    # Every call that Tamas cannot answer still reaches the normal queue.
    inbound = [s.args for s in plan.contexts["tamas-inbound"]["s"]]
    assert '$["${TAMAS_LOOKUP}" != "ok"]?tamas-destinations,queue,1' in inbound


def test_a_caller_who_presses_1_in_the_queue_is_booked_and_told(plan: Dialplan) -> None:
    (step, *_) = plan.contexts["tamas-queue-callback"]["1"][1:]
    assert step.app == "Gosub" and step.args.startswith("tamas-callback-request,s,1(")
    apps = [(s.app, s.args) for s in plan.contexts["tamas-queue-callback"]["1"]]
    assert ("Playback", "custom/tamas-callback-booked") in apps
    assert ("Playback", "custom/tamas-callback-failed") in apps
    # Not booked: back to the queue rather than lost.
    assert apps[-1] == ("Goto", "tamas-destinations,queue,1")
    # Every queue the dialplan sends callers to says which one it is, for the request.
    for exten in ("queue", "vip", "sales"):
        steps = plan.contexts["tamas-destinations"][exten]
        at = [s.app for s in steps].index("Queue")
        assert steps[at - 1].args.startswith("TAMAS_IN_QUEUE=")
    queues = (CONF.parent / "queues.conf").read_text()
    assert "\ncontext=tamas-queue-callback\n" in queues
