#!/usr/bin/env python3
"""Asterisk-aware checks of a set of Asterisk configs, as Tamas uses them.

    python3 asterisk-dev/check.py [CONF_DIR]     (default: asterisk-dev/etc/asterisk)

Prints one line per problem and exits 1 when there is any. It checks what Asterisk itself only
reports in its log at load time, or not at all:

- pjsip.conf: every section has a known type; each endpoint's aors, auth, outbound_auth and
  transport, each identify's endpoint and each registration's auth name sections of the right
  type; an endpoint's context exists in the dialplan;
- queues.conf: only options Asterisk 12+ knows (eventwhencalled, eventmemberstatus and
  updatecdr are gone), a valid strategy, every member and state interface a PJSIP endpoint,
  the context= a caller exits to (the queue callback) a dialplan context;
- the dialplan (extensions.conf and its #include files): every include => lands on a context,
  every Queue() and every queue name [tamas-settings] sets is in queues.conf, every
  Dial(PJSIP/name) an endpoint;
- manager.conf: AMI on, each user with a secret, deny and permit, and known read/write classes;
- rtp.conf: a port range.

asterisklint (PyPI) checks the dialplan's syntax, applications and Goto targets; this does the
rest. Python 3.9+, standard library only. Also importable: the tests use read_conf(),
Dialplan and find_extension().
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent / "etc" / "asterisk"

PJSIP_TYPES = {
    "global", "system", "transport", "endpoint", "aor", "auth", "identify", "registration",
    "domain_alias", "contact", "acl", "phoneprov", "outbound-publish", "inbound-publication",
    "resource_list",
}  # fmt: skip

# queues.conf as Asterisk 22 reads it (configs/samples/queues.conf.sample and app_queue.c).
QUEUE_GENERAL = {
    "persistentmembers", "enable_cidname_logging", "autofill", "monitor-type",
    "shared_lastcall", "negative_penalty_invalid", "log_membername_as_agent",
    "log-restricted-caller-id", "force_longest_waiting_caller", "keepstats",
}  # fmt: skip
QUEUE_OPTIONS = {
    "musicclass", "musiconhold", "announce", "queue-callerannounce", "strategy",
    "servicelevel", "context", "penaltymemberslimit", "timeout", "retry", "timeoutpriority",
    "weight", "wrapuptime", "autofill", "autopause", "autopausedelay", "autopausebusy",
    "autopauseunavail", "maxlen", "setinterfacevar", "setqueueentryvar", "setqueuevar",
    "membergosub", "announce-frequency", "min-announce-frequency",
    "periodic-announce-frequency", "periodic-announce-startdelay",
    "random-periodic-announce", "relative-periodic-announce", "announce-holdtime",
    "announce-position", "announce-to-first-user", "announce-position-limit",
    "announce-round-seconds", "announce-position-only-up", "periodic-announce",
    "monitor-format", "monitor-type", "joinempty", "leavewhenempty", "reportholdtime",
    "ringinuse", "memberdelay", "timeoutrestart", "defaultrule", "member",
    "queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-quantity1",
    "queue-quantity2", "queue-holdtime", "queue-minute", "queue-minutes", "queue-seconds",
    "queue-thankyou", "queue-reporthold",
}  # fmt: skip
QUEUE_GONE = {
    "eventwhencalled": "gone since Asterisk 12: AgentCalled and the other Agent* events are "
    "always sent",
    "eventmemberstatus": "gone since Asterisk 12: QueueMemberStatus is always sent",
    "updatecdr": "gone since Asterisk 12: use the MEMBERINTERFACE variable (setinterfacevar)",
    "monitor-join": "gone: MixMonitor mixes",
}
QUEUE_STRATEGIES = {
    "ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered", "linear",
    "wrandom",
}  # fmt: skip
# manager.conf read/write classes (main/manager.c, perms[]).
AMI_CLASSES = {
    "all", "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
    "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
    "message",
}  # fmt: skip


@dataclass
class Section:
    name: str
    file: str
    line: int
    is_template: bool = False
    templates: list[str] = field(default_factory=list)
    options: list[tuple[str, str, int]] = field(default_factory=list)  # key, value, line

    def get(self, key: str, default: str = "") -> str:
        values = self.all(key)
        return values[-1] if values else default

    def all(self, key: str) -> list[str]:
        return [v for k, v, _ in self.options if k == key]

    def where(self, key: str | None = None) -> str:
        line = next((n for k, _, n in self.options if k == key), self.line)
        return f"{self.file}:{line}"


def strip_comment(line: str) -> str:
    """A line without its ; comment (\\; is a semicolon), trimmed."""
    return re.split(r"(?<!\\);", line, maxsplit=1)[0].strip()


def read_conf(path: Path, _seen: frozenset[Path] = frozenset()) -> list[Section]:
    """The sections of an Asterisk config file, #include files read in place, templates
    resolved (a section's options: its templates' first, then its own)."""
    sections: list[Section] = []
    _read(path, sections, _seen)
    templates = {s.name: s for s in sections if s.is_template}
    for section in sections:
        inherited: list[tuple[str, str, int]] = []
        for name in section.templates:
            if name in templates:
                inherited += templates[name].options
        section.options = inherited + section.options
    return sections


def _read(path: Path, sections: list[Section], seen: frozenset[Path]) -> None:
    if path in seen:
        raise ValueError(f"{path.name}: #include loop")
    current: Section | None = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        if m := re.fullmatch(r"#(try)?include\s+\"?([^\"]+)\"?", line):
            target = path.parent / m[2]
            if target.exists() or not m[1]:
                _read(target, sections, seen | {path})
            current = sections[-1] if sections else None
            continue
        if m := re.fullmatch(r"\[([^\]]+)\](?:\(([^)]*)\))?", line):
            flags = [f.strip() for f in (m[2] or "").split(",") if f.strip()]
            current = Section(m[1], path.name, n, "!" in flags, [f for f in flags if f != "!"])
            sections.append(current)
            continue
        if current is None:
            raise ValueError(f"{path.name}:{n}: an option before any [section]: {line}")
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}:{n}: not key = value: {line}")
        current.options.append((key.strip(), value.lstrip(">").strip(), n))


def sections_of(path: Path) -> list[Section]:
    return [s for s in read_conf(path) if not s.is_template] if path.exists() else []


# -- the dialplan ----------------------------------------------------------------------------


@dataclass
class Step:
    file: str
    line: int
    exten: str
    app: str
    args: str


@dataclass
class Dialplan:
    extens: dict[str, list[str]] = field(default_factory=dict)  # context -> patterns
    includes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # -> (ctx, where)
    steps: dict[str, list[Step]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Dialplan:
        plan = cls()
        for section in read_conf(path):
            if section.name in ("general", "globals"):
                continue
            ctx = section.name
            plan.extens.setdefault(ctx, [])
            plan.includes.setdefault(ctx, [])
            plan.steps.setdefault(ctx, [])
            exten = ""
            for key, value, line in section.options:
                where = f"{section.file}:{line}"
                if key == "include":
                    plan.includes[ctx].append((value.split(",")[0].strip(), where))
                    continue
                if key == "exten":
                    exten, _, body = value.partition(",")
                    exten = exten.strip()
                    if exten not in plan.extens[ctx]:
                        plan.extens[ctx].append(exten)
                    body = body.partition(",")[2]
                elif key == "same":
                    body = value.partition(",")[2]
                else:
                    continue
                if m := re.fullmatch(r"\s*([A-Za-z]\w*)(?:\((.*)\))?\s*", body):
                    plan.steps[ctx].append(Step(section.file, line, exten, m[1], m[2] or ""))
        return plan


def pattern_matches(pattern: str, exten: str) -> bool:
    """Whether an extension pattern (_X., _10XX, _[0+]X., or a literal) takes ``exten``."""
    if not pattern.startswith("_"):
        return pattern == exten
    regex = ""
    chars = iter(pattern[1:])
    for ch in chars:
        if ch == "X":
            regex += "[0-9]"
        elif ch == "Z":
            regex += "[1-9]"
        elif ch == "N":
            regex += "[2-9]"
        elif ch == ".":
            regex += ".+"
        elif ch == "!":
            regex += ".*"
        elif ch == "[":
            body = ""
            for c in chars:
                if c == "]":
                    break
                body += c
            regex += "[" + re.escape(body).replace("\\-", "-") + "]"
        else:
            regex += re.escape(ch)
    return re.fullmatch(regex, exten) is not None


def find_extension(plan: Dialplan, context: str, exten: str) -> str | None:
    """The context (``context`` or one it includes) whose extensions take ``exten`` first,
    as Asterisk looks: the context's own extensions, then its includes in order."""
    seen: set[str] = set()

    def look(ctx: str) -> str | None:
        if ctx in seen or ctx not in plan.extens:
            return None
        seen.add(ctx)
        if any(pattern_matches(p, exten) for p in plan.extens[ctx]):
            return ctx
        for included, _ in plan.includes[ctx]:
            if (found := look(included)) is not None:
                return found
        return None

    return look(context)


# -- the checks ------------------------------------------------------------------------------


def check(conf_dir: Path = HERE) -> list[str]:
    """Every problem found in ``conf_dir``, as ``file:line: what``."""
    problems: list[str] = []
    plan = Dialplan.read(conf_dir / "extensions.conf")
    pjsip = sections_of(conf_dir / "pjsip.conf")
    queues = sections_of(conf_dir / "queues.conf")
    by_type: dict[str, set[str]] = {}
    for s in pjsip:
        by_type.setdefault(s.get("type"), set()).add(s.name)
    endpoints = by_type.get("endpoint", set())
    queue_names = {s.name for s in queues if s.name != "general"}

    problems += _check_pjsip(pjsip, by_type, plan)
    problems += _check_queues(queues, endpoints, set(plan.extens))
    problems += _check_dialplan(plan, queue_names, endpoints)
    problems += _check_manager(sections_of(conf_dir / "manager.conf"))
    for s in sections_of(conf_dir / "rtp.conf"):
        start, end = s.get("rtpstart", "5000"), s.get("rtpend", "31000")
        if not (start.isdigit() and end.isdigit() and int(start) < int(end)):
            problems.append(f"{s.where('rtpstart')}: rtpstart {start} must be below rtpend {end}")
    return problems


def _check_pjsip(pjsip: list[Section], by_type: dict[str, set[str]], plan: Dialplan) -> list[str]:
    out: list[str] = []

    def refer(s: Section, key: str, kind: str) -> None:
        for name in (n.strip() for v in s.all(key) for n in v.split(",")):
            if name and name not in by_type.get(kind, set()):
                out.append(f"{s.where(key)}: [{s.name}] {key}={name}: no {kind} [{name}]")

    for s in pjsip:
        kind = s.get("type")
        if kind not in PJSIP_TYPES:
            out.append(f"{s.where('type')}: [{s.name}] type={kind or '(none)'} is not a pjsip type")
        elif kind == "endpoint":
            if not s.get("aors"):
                out.append(f"{s.where()}: endpoint [{s.name}] has no aors: nothing can reach it")
            refer(s, "aors", "aor")
            refer(s, "auth", "auth")
            refer(s, "outbound_auth", "auth")
            refer(s, "transport", "transport")
            context = s.get("context", "default")
            if context not in plan.extens:
                out.append(f"{s.where('context')}: endpoint [{s.name}]: no context [{context}]")
        elif kind == "identify":
            refer(s, "endpoint", "endpoint")
        elif kind == "registration":
            refer(s, "outbound_auth", "auth")
            refer(s, "transport", "transport")
            refer(s, "endpoint", "endpoint")
        elif (
            kind == "auth"
            and s.get("auth_type", "userpass") == "userpass"
            and not (s.get("username") and s.get("password"))
        ):
            out.append(f"{s.where()}: auth [{s.name}] needs a username and a password")
    return out


def _check_queues(queues: list[Section], endpoints: set[str], contexts: set[str]) -> list[str]:
    out: list[str] = []
    for s in queues:
        known = QUEUE_GENERAL if s.name == "general" else QUEUE_OPTIONS
        for key, value, line in s.options:
            where = f"{s.file}:{line}"
            if key in QUEUE_GONE and key not in known:
                out.append(f"{where}: [{s.name}] {key}: {QUEUE_GONE[key]}")
            elif key not in known:
                out.append(f"{where}: [{s.name}] {key}: not a queues.conf option")
            elif key == "strategy" and value not in QUEUE_STRATEGIES:
                out.append(f"{where}: [{s.name}] strategy={value}: not a strategy")
            elif key == "context" and value not in contexts:
                out.append(f"{where}: [{s.name}] context={value}: no such dialplan context")
            elif key == "member":
                fields = [f.strip() for f in value.split(",")]
                for interface in (fields[0], fields[3] if len(fields) > 3 else ""):
                    tech, _, name = interface.partition("/")
                    if tech.upper() == "PJSIP" and name not in endpoints:
                        out.append(f"{where}: [{s.name}] member {interface}: no such endpoint")
    return out


def _check_dialplan(plan: Dialplan, queue_names: set[str], endpoints: set[str]) -> list[str]:
    out: list[str] = []
    for ctx, includes in plan.includes.items():
        for target, where in includes:
            if target not in plan.extens:
                out.append(f"{where}: [{ctx}] includes [{target}], which does not exist")
    for ctx, steps in plan.steps.items():
        for step in steps:
            where = f"{step.file}:{step.line}"
            queue = ""
            if step.app == "Queue":
                queue = step.args.split(",")[0].strip()
            elif step.app == "Set" and re.fullmatch(r"TAMAS_\w*QUEUE=.*", step.args):
                queue = step.args.partition("=")[2].strip()
            if queue and "${" not in queue and queue not in queue_names:
                out.append(f"{where}: [{ctx}] queue {queue}: not in queues.conf")
            if step.app == "Dial":
                for target in step.args.split(",")[0].split("&"):
                    tech, _, rest = target.strip().partition("/")
                    name = rest.split("@")[-1] if "@" in rest else rest
                    if tech.upper() == "PJSIP" and "${" not in name and name not in endpoints:
                        out.append(f"{where}: [{ctx}] Dial({target}): no endpoint [{name}]")
    return out


def _check_manager(sections: list[Section]) -> list[str]:
    out: list[str] = []
    general = next((s for s in sections if s.name == "general"), None)
    if general is None or general.get("enabled") != "yes":
        out.append("manager.conf: [general] enabled=yes is needed for Tamas")
    for s in sections:
        if s.name == "general":
            continue
        if not s.get("secret"):
            out.append(f"{s.where()}: AMI user [{s.name}] has no secret")
        if not s.all("deny") or not s.all("permit"):
            out.append(f"{s.where()}: AMI user [{s.name}]: deny all, then permit Tamas's hosts")
        for key in ("read", "write"):
            for cls in (c.strip() for c in s.get(key).split(",") if c.strip()):
                if cls not in AMI_CLASSES:
                    out.append(f"{s.where(key)}: AMI user [{s.name}] {key}: no class {cls!r}")
    return out


def main(argv: list[str]) -> int:
    conf_dir = Path(argv[1]) if len(argv) > 1 else HERE
    problems = check(conf_dir)
    for problem in problems:
        print(problem)
    print(f"{conf_dir}: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
