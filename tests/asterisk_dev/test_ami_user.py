"""The AMI user's classes against the actions Tamas's code sends and the events it reads
(their classes taken from the real Asterisk traces)."""

from __future__ import annotations

import ast
from pathlib import Path

from telephony import members, protocol
from telephony.tracker import CallTracker
from tests.asterisk_dev.support import (
    ETC,
    REPO,
    TRACES,
    check,
    edit,
)

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
    edit(
        etc_copy / "manager.conf", "write=originate,agent,reporting,call", "write=originate,system"
    )
    assert ami_problems(etc_copy) == [
        "write: QueueAdd needs one of ['agent']",
        "write: QueuePause needs one of ['agent']",
        "write: QueueRemove needs one of ['agent']",
        "read: Newexten comes in class dialplan",
        "read: VarSet comes in class dialplan",
        "read: reporting is not needed",
    ]
