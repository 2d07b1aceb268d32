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
  Dial(PJSIP/name) an endpoint; and, following the dialplan as a channel runs it
  (DialplanRun, a small emulator): a value used after what it was built from is assigned
  again, a CURL() to Tamas without the PBX's token, the token where AMI clients see it (a
  channel variable or global: VarSet; a step's substituted text: Newexten);
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
    label: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Dialplan:
    extens: dict[str, list[str]] = field(default_factory=dict)  # context -> patterns
    includes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # -> (ctx, where)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    globals: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> value, where

    @classmethod
    def read(cls, path: Path) -> Dialplan:
        plan = cls()
        for section in read_conf(path):
            if section.name == "globals":
                for key, value, line in section.options:
                    plan.globals[key] = (value, f"{section.file}:{line}")
                continue
            if section.name == "general":
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
                elif key == "same":
                    body = value
                else:
                    continue
                priority, _, body = body.partition(",")
                label = re.fullmatch(r"\s*\w+\((\w+)\)\s*", priority)
                if m := re.fullmatch(r"\s*([A-Za-z]\w*)(?:\((.*)\))?\s*", body):
                    step = Step(
                        section.file, line, exten, m[1], m[2] or "", label[1] if label else ""
                    )
                    plan.steps[ctx].append(step)
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


# -- the dialplan run: what a channel's variables hold, step by step --------------------------
#
# A small emulator of Asterisk's dialplan, enough to follow the Tamas contexts the way a
# channel runs them: ${...} substituted as pbx_variables.c does (innermost first, one pass;
# Exec() substitutes its argument a second time), Set() assigning, Goto/GotoIf/Gosub/Return
# followed, and a condition whose value is not known taking both ways. It finds what only
# shows at run time:
#   - a value built from a variable that is assigned again later (an option set once per
#     channel from a placeholder the real value replaces afterwards): what uses it gets the
#     old value;
#   - a CURL() to Tamas that sends no token (Tamas answers 401: every lookup fails);
#   - a secret (the PBX's token) where an AMI client sees it: a channel variable or global
#     (VarSet events), or the text of a step once substituted (Newexten's AppData).

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW", re.I)
_UNKNOWN = "\x02"  # marks a value the emulator cannot know (a CURL() answer, the time...)
_CONDITION = re.compile(r'\$\[\s*"\$\{(\w+)\}"\s*(=|!=)\s*"([^"$]*)"\s*\]')
_ARG = re.compile(r"ARG\d+")
MAX_STEPS = 200_000


def secret_of(name: str) -> str:
    """What the emulator puts in a secret environment variable: found again wherever it
    travels."""
    return f"\x01secret:{name}\x01"


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


def sample_of(pattern: str) -> str:
    """An extension a pattern takes (_X. -> 123), to follow a Goto(ctx,${EXTEN},1)."""
    if not pattern.startswith("_"):
        return pattern
    out, chars = "", iter(pattern[1:])
    for ch in chars:
        if ch in "XZ":
            out += "1"
        elif ch == "N":
            out += "2"
        elif ch == ".":
            out += "23"
        elif ch == "[":
            body = "".join(iter(lambda: next(chars, "]"), "]"))
            out += body[:1]
        elif ch != "!":
            out += ch
    return out


@dataclass
class Published:
    """Something of a step an AMI client with dialplan/call read sees."""

    step: Step
    kind: str  # Newexten (the substituted AppData) or VarSet
    text: str


@dataclass
class _Run:
    ctx: str
    exten: str
    index: int
    values: dict[str, str]  # known values; _UNKNOWN inside: not known
    built: dict[str, tuple[frozenset[str], Step, str]] = field(default_factory=dict)
    stale: dict[str, tuple[str, Step, Step]] = field(default_factory=dict)
    stack: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    visits: dict[tuple[str, str, int, tuple[tuple[str, str, int], ...]], int] = field(
        default_factory=dict
    )

    def fork(self, ctx: str, exten: str, index: int) -> _Run:
        return _Run(
            ctx, exten, index, dict(self.values), dict(self.built), dict(self.stale),
            [(c, e, i, dict(a)) for c, e, i, a in self.stack], dict(self.visits),
        )  # fmt: skip


class DialplanRun:
    """Every way a channel can run through the dialplan from each extension, with what it
    publishes and the problems found on the way."""

    def __init__(self, plan: Dialplan, env: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.env = env or {}
        self.problems: dict[str, None] = {}  # in order found, once each
        self.published: list[Published] = []
        self.steps = 0
        self.globals = {
            name: self.substitute(value, {})[0] for name, (value, _) in plan.globals.items()
        }
        self.by_exten: dict[tuple[str, str], list[Step]] = {}
        for ctx, steps in plan.steps.items():
            for step in steps:
                self.by_exten.setdefault((ctx, step.exten), []).append(step)

    def env_value(self, name: str) -> str:
        if name in self.env:
            return self.env[name]
        return secret_of(name) if SECRET_NAME.search(name) else f"<{name}>"

    # -- substitution, as pbx_variables.c ---------------------------------------------------

    def substitute(self, text: str, values: dict[str, str]) -> tuple[str, set[str]]:
        """``text`` with its ${...} and $[...] replaced, and the variables it read."""
        out, used, i = "", set(), 0
        while i < len(text):
            j = text.find("$", i)
            if j < 0 or j + 1 >= len(text) or text[j + 1] not in "{[":
                end = len(text) if j < 0 else j + 1
                out += text[i:end]
                i = end
                continue
            out += text[i:j]
            opening, closing = text[j + 1], "}" if text[j + 1] == "{" else "]"
            depth, k = 1, j + 2
            while k < len(text) and depth:
                if text[k] == opening:
                    depth += 1
                elif text[k] == closing:
                    depth -= 1
                k += 1
            inner, inner_used = self.substitute(text[j + 2 : k - 1], values)
            used |= inner_used
            if opening == "[":
                out += _UNKNOWN + inner + _UNKNOWN  # an expression: kept, not computed
            else:
                value, name = self._value(inner, values)
                out += value
                if name:
                    used.add(name)
            i = k
        return out, used

    def _value(self, inner: str, values: dict[str, str]) -> tuple[str, str]:
        m = re.fullmatch(r"([A-Za-z_][\w.]*)\((.*)\)(?::.*)?", inner, re.S)
        if m is None:
            name = inner.split(":")[0]
            if name in values:
                return values[name], name
            if name in self.globals:
                return self.globals[name], name
            return (_UNKNOWN if name in ("UNIQUEID", "EPOCH", "CHANNEL") else ""), name
        func, args = m[1].upper(), m[2]
        if func == "ENV":
            return self.env_value(args.strip()), ""
        if func == "SPRINTF":
            fmt, *rest = split_top(args, ",")
            if fmt == "%c" and len(rest) == 1 and rest[0].strip().isdigit():
                return chr(int(rest[0])), ""
        if func == "IF":
            cond, _, branches = args.partition("?")
            true, _, false = branches.partition(":")
            if _UNKNOWN not in cond:
                c = cond.strip()
                return (true if c and c != "0" and not re.fullmatch(r"0+(\.0*)?", c) else false), ""
        if func == "CURL":
            return _UNKNOWN, ""  # the answer: what went into the request is not shown
        if func == "HASH" and (key := f"HASH({args})") in values:
            return values[key], key
        # Any other function: not known, and whatever went in may come out (URIENCODE...).
        return _UNKNOWN + args + _UNKNOWN, ""

    # -- running ----------------------------------------------------------------------------

    def run_all(self) -> DialplanRun:
        for ctx, exten in self.by_exten:
            self._run(_Run(ctx, exten, 0, {"EXTEN": sample_of(exten)}))
        return self

    def _problem(self, text: str) -> None:
        self.problems.setdefault(text, None)

    def _run(self, first: _Run) -> None:
        pending = [first]
        while pending:
            run = pending.pop()
            while run is not None:
                self.steps += 1
                if self.steps > MAX_STEPS:
                    raise ValueError("the dialplan run did not end: too many paths")
                run, forks = self._step(run)
                pending += forks

    def _jump(self, run: _Run, target: str) -> _Run | None:
        """``run`` moved to a Goto target (label | exten,prio | ctx,exten,prio)."""
        parts = [p.strip() for p in split_top(target, ",")]
        if len(parts) > 3 or not parts[0]:
            return None
        ctx, exten, prio = {1: [run.ctx, run.exten, *parts], 2: [run.ctx, *parts], 3: parts}[
            len(parts)
        ]
        if _UNKNOWN in ctx + exten + prio:
            return None
        found = find_extension(self.plan, ctx, exten) if len(parts) > 1 else ctx
        if found is None:
            return None
        if len(parts) > 1:
            key = next((p for p in self.plan.extens[found] if pattern_matches(p, exten)), None)
            if key is None:
                return None
            if key != run.exten or found != run.ctx:
                run.values["EXTEN"] = exten
            ctx, exten = found, key
        steps = self.by_exten.get((ctx, exten), [])
        if prio.isdigit():
            index = int(prio) - 1
        else:
            index = next((i for i, s in enumerate(steps) if s.label == prio), -1)
        if not 0 <= index < len(steps):
            return None
        run.ctx, run.exten, run.index = ctx, exten, index
        return run

    def _condition(self, text: str, values: dict[str, str]) -> bool | None:
        m = _CONDITION.fullmatch(text.strip())
        if m is None:
            return None
        value, _ = self._value(m[1], values)
        if _UNKNOWN in value:
            return None
        return (value == m[3]) == (m[2] == "=")

    def _branches(self, run: _Run, cond: str, targets: list[str]) -> list[str | None]:
        """The targets a condition can lead to (None: the next step)."""
        true, false = [*targets, ""][:2]
        value = self._condition(cond, run.values)
        ways = [true] if value is True else [false] if value is False else [true, false]
        return [w or None for w in ways]

    def _step(self, run: _Run) -> tuple[_Run | None, list[_Run]]:
        steps = self.by_exten.get((run.ctx, run.exten), [])
        if run.index >= len(steps):
            return None, []
        # A loop (the IVR's tries) is followed twice round; a subroutine once per caller.
        key = (run.ctx, run.exten, run.index, tuple((c, e, i) for c, e, i, _ in run.stack))
        run.visits[key] = run.visits.get(key, 0) + 1
        if run.visits[key] > 2:
            return None, []
        step = steps[run.index]
        data, used = self.substitute(step.args, run.values)
        self.published.append(Published(step, "Newexten", data))
        self._uses(run, step, used)
        run.index += 1
        app = step.app
        if app in ("Set", "MSet"):
            self._set(run, step, step.args, data, published=True)
        elif app == "Exec":
            inner_app, _, inner = data.partition("(")
            inner = inner.rpartition(")")[0]
            again, again_used = self.substitute(inner, run.values)  # not published: same priority
            self._uses(run, step, again_used)
            if inner_app.strip() == "Set":
                self._set(run, step, inner, again, published=False)
        elif app == "ExecIf":
            # The condition is read as written; the application runs as substituted.
            cond, _, rest = step.args.partition("?")
            for chosen in self._branches(run, cond, split_top(rest, ":")):
                if chosen and chosen.split("(")[0].strip() == "Set":
                    raw = chosen.partition("(")[2].rpartition(")")[0]
                    value, used = self.substitute(raw, run.values)
                    self._set(run, step, raw, value, published=False)
        elif app in ("Goto", "GotoIf"):
            if app == "Goto":
                ways: list[str | None] = [step.args]
            else:
                cond, _, rest = step.args.partition("?")
                ways = self._branches(run, cond, split_top(rest, ":"))
            out = [
                run
                if way is None
                else self._jump(
                    run.fork(run.ctx, run.exten, run.index),
                    self.substitute(way, run.values)[0],
                )
                for way in ways
            ]
            live = [r for r in out if r is not None]
            return (live[0] if live else None), live[1:]
        elif app == "Gosub":
            target, _, args = data.partition("(")
            frame = {k: v for k, v in run.values.items() if _ARG.fullmatch(k)}
            run.stack.append((run.ctx, run.exten, run.index, frame))
            for k in frame:
                del run.values[k]
            for n, arg in enumerate(split_top(args.rpartition(")")[0], ","), 1):
                run.values[f"ARG{n}"] = arg
            return self._jump(run, target), []
        elif app == "Return":
            if not run.stack:
                return None, []
            run.ctx, run.exten, run.index, frame = run.stack.pop()
            for k in [k for k in run.values if _ARG.fullmatch(k)]:
                del run.values[k]
            run.values.update(frame)
        elif app == "Hangup":
            return None, []
        if "CURL(" in step.args and "TAMAS_URL" in step.args:
            self._curl(run, step, data)
        return run, []

    def _set(self, run: _Run, step: Step, raw: str, data: str, *, published: bool) -> None:
        value_raw = raw.partition("=")[2]
        name, _, value = data.partition("=")
        name = name.strip()
        _, deps = self.substitute(value_raw, run.values)
        deps = {d for d in deps if not _ARG.fullmatch(d) and d != name}
        if published and not re.fullmatch(r"CURLOPT\(.*\)", name):
            self.published.append(Published(step, "VarSet", value))
            if SECRET_NAME.search(name.split("(")[0]) or any(
                v in value for v in self.secret_values()
            ):
                self._problem(
                    f"{step.where}: Set({name}=...) puts the PBX's token in a channel "
                    "variable: every VarSet event shows it to AMI users with dialplan read"
                )
        run.values[name] = value
        run.built[name] = (frozenset(deps), step, value)
        run.stale.pop(name, None)
        for other, (other_deps, built_at, _) in run.built.items():
            if name in other_deps and other != name and built_at is not step:
                run.stale.setdefault(other, (name, built_at, step))

    def secret_values(self) -> list[str]:
        """What the secrets the dialplan reads from the environment hold in this run."""
        return [self.env_value(name) for name in self._secrets()]

    def _secrets(self) -> list[str]:
        names = re.findall(
            r"ENV\((\w+)\)", "\n".join(s.args for ss in self.plan.steps.values() for s in ss)
        )
        names += [v for v, _ in self.plan.globals.values() for v in re.findall(r"ENV\((\w+)\)", v)]
        return [n for n in dict.fromkeys(names) if SECRET_NAME.search(n)]

    def _uses(self, run: _Run, step: Step, used: set[str]) -> None:
        names = set(used)
        if "CURL(" in step.args:
            names |= {n for n in run.built if n.startswith("CURLOPT(")}
        for name in sorted(names):
            if name in run.stale:
                dep, built_at, assigned_at = run.stale[name]
                self._problem(
                    f"{step.where}: {name} is used here as built at {built_at.where} from "
                    f"${{{dep}}}, which {assigned_at.where} assigns only later: it still holds "
                    "the value from before"
                )

    def _curl(self, run: _Run, step: Step, data: str) -> None:
        secrets = self.secret_values()
        header = run.values.get("CURLOPT(httpheader)", "")
        if not any(s in header or s in data for s in secrets) and secrets:
            sent = header.replace(_UNKNOWN, "") or "no Authorization header"
            self._problem(
                f"{step.where}: this CURL() reaches Tamas without the PBX's token ({sent}): "
                "Tamas answers 401 and every lookup fails"
            )


def _check_secrets(plan: Dialplan, run: DialplanRun) -> list[str]:
    out: list[str] = []
    for name, (value, where) in plan.globals.items():
        if SECRET_NAME.search(name) or any(
            SECRET_NAME.search(n) for n in re.findall(r"ENV\((\w+)\)", value)
        ):
            out.append(
                f"{where}: [globals] {name}: a global holding a secret is shown by every "
                "VarSet at a dialplan reload and by 'dialplan show globals'"
            )
    for p in run.published:
        if p.kind == "Newexten" and any(v in p.text for v in run.secret_values()):
            out.append(
                f"{p.step.where}: {p.step.app}(): the PBX's token is in this step's text once "
                "substituted (Newexten AppData, the console): read it inside the function "
                "that uses it, or where Exec() substitutes a second time"
            )
    return list(dict.fromkeys(out))


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
    run = DialplanRun(plan).run_all()
    problems += list(run.problems)
    problems += _check_secrets(plan, run)
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
