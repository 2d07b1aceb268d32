"""What the asterisk-dev/ tests share: its paths, a small reader of the Tamas dialplan, the
people the lookup tests seed, and asterisk-dev/check.py loaded as a module."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.pbx.service import CallerInfo

ROOT = Path(__file__).resolve().parents[2] / "asterisk-dev"
CONF = ROOT / "etc" / "asterisk" / "extensions_tamas.conf"
AGI = ROOT / "agi" / "tamas-lookup"
TOKEN = "pbx-token-for-the-dialplan-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

APPS = {
    "AGI", "Answer", "ChanSpy", "Dial", "Exec", "ExecIf", "Gosub", "Goto", "GotoIf", "Hangup",
    "NoOp", "Playback", "Queue", "Read", "Return", "Ringing", "SayDigits", "Set",
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


def settings_of(plan: Dialplan) -> dict[str, str]:
    """What [tamas-settings] sets: name -> value as written."""
    out: dict[str, str] = {}
    for step in plan.contexts["tamas-settings"]["s"]:
        if step.app == "Set":
            name, _, value = step.args.partition("=")
            out[name] = value
    return out


@dataclass(frozen=True)
class People:
    vip_id: int
    code: str  # an open case owned by the agent at PJSIP/1002
    closed_code: str
    linkedid: str = ""  # a call answered by the agent at PJSIP/1001 (01_direct_answered)


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
