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
        "tamas-callback-request", "tamas-survey", "tamas-survey-post",
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
        "tamas-survey-post",
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
    survey: set[str] = set()
    for linkedid in (people.linkedid, "1700000000.404"):  # answered by an agent, unknown
        r = await client.get(f"/pbx/survey?linkedid={linkedid}&q1=5&format=json", headers=AUTH)
        survey |= set(r.json())
    used: dict[str, set[str]] = {
        "tamas": set(), "tamas_code": set(), "tamas_callback": set(), "tamas_survey": set(),
    }  # fmt: skip
    for extens in plan.contexts.values():
        for steps in extens.values():
            for step in steps:
                for hash_name, key in re.findall(r"HASH\((\w+),(\w+)\)", step.args):
                    used[hash_name].add(key)
    assert used["tamas"] <= LOOKUP_KEYS
    assert used["tamas_code"] <= tracking
    assert used["tamas_callback"] == {"booked"} and "booked" in callback
    assert used["tamas_survey"] == {"found"} and "found" in survey
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
                told = ("TAMAS_LOOKUP", "TAMAS_TRACKING", "TAMAS_CALLBACK", "TAMAS_SURVEYED")
                assert any(name in steps[i + 1].args for name in told)
    assert curls == 4
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
    # Every queue the dialplan sends callers to says which one it is, for the request, and
    # answers the caller first: an unanswered caller's keys never reach the PBX (no media),
    # as the live run showed (phones.py's queue_callback could not send its 1).
    for exten in ("queue", "vip", "sales"):
        steps = plan.contexts["tamas-destinations"][exten]
        at = [s.app for s in steps].index("Queue")
        assert (steps[at - 1].app, steps[at - 1].args) == ("Answer", "")
        assert steps[at - 2].args.startswith("TAMAS_IN_QUEUE=")
    queues = (CONF.parent / "queues.conf").read_text()
    assert "\ncontext=tamas-queue-callback\n" in queues


def test_after_the_agent_hangs_up_the_caller_is_surveyed(plan: Dialplan) -> None:
    dest = plan.contexts["tamas-destinations"]
    # Every queue keeps the caller when the agent hangs up (c), then the survey; a wait that
    # ended otherwise (timeout, empty queue) hangs up as before.
    for exten in ("queue", "vip", "sales"):
        steps = dest[exten]
        (queue,) = [s for s in steps if s.app == "Queue"]
        assert queue.args.split(",")[1] == "c"
        assert steps[steps.index(queue) + 1].args == "after-queue,1"
    assert [(s.app, s.args) for s in dest["after-queue"]] == [
        ("GotoIf", '$["${QUEUESTATUS}" = "CONTINUE"]?tamas-survey,s,1'),
        ("Hangup", ""),
    ]
    # The assigned agent's Dial keeps the caller too (g), and only an answered call is rated.
    agent = dest["agent"]
    (dial,) = [s for s in agent if s.app == "Dial"]
    assert dial.args.endswith(",g")
    assert agent[agent.index(dial) + 1].args == '$["${DIALSTATUS}" = "ANSWER"]?tamas-survey,s,1'
    # Two questions, one key each within 5 s; no key to the first: no second question.
    steps = plan.contexts["tamas-survey"]["s"]
    reads = [s.args.split(",") for s in steps if s.app == "Read"]
    assert [(r[0], r[1], r[2], r[5]) for r in reads] == [
        ("TAMAS_SURVEY_Q1", "custom/tamas-survey-q1", "1", "5"),
        ("TAMAS_SURVEY_Q2", "custom/tamas-survey-q2", "1", "5"),
    ]
    assert ("GotoIf", '$["${TAMAS_SURVEY_Q1}" = ""]?done') in [(s.app, s.args) for s in steps]
    post = "tamas-survey-post,s,1(${TAMAS_SURVEY_Q1},${TAMAS_SURVEY_Q2})"
    assert ("Gosub", post) in [(s.app, s.args) for s in steps]
    # A caller who hangs up after the first answer: the h extension still sends it, once.
    hangup = [(s.app, s.args) for s in plan.contexts["tamas-survey"]["h"]]
    assert hangup[0] == ("GotoIf", '$["${TAMAS_SURVEY_SENT}" = "yes"]?end')
    assert ("Gosub", post) in hangup
    # The request names the call by its linkedid, as Tamas stores it.
    (curl,) = [s for s in plan.contexts["tamas-survey-post"]["s"] if "CURL(" in s.args]
    assert "/pbx/survey?linkedid=${URIENCODE(${CHANNEL(linkedid)})}&q1=" in curl.args
    assert settings_of(plan)["TAMAS_SURVEY"] == "yes"
