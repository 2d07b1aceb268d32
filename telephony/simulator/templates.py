"""Recorded calls as templates for synthetic traffic.

A template is the event stream of one recorded call. A generated call is that stream with
every identifier rewritten consistently in one regex pass: Uniqueids/Linkedids (in every key
that carries them, in recording file names and in CEL's JSON), channel name suffixes, bridge
and SIP session UUIDs, the customer's number and name (CallerIDNum/Name, ConnectedLine*,
CEL CallerIDnum/name, Cdr Source/CallerID, dialplan AppData, recording names), the agents
(a permutation, so calls spread over the desks), and every timestamp. So the event shapes are
exactly what Asterisk sent, and concurrent calls never share an identifier.
"""

from __future__ import annotations

import calendar
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from telephony.simulator.protocol import TERMINATOR, event_name, get, parse_fields
from telephony.simulator.state import DEFAULT_AGENTS, Agent
from telephony.simulator.trace import Recording

# Scenario -> the recordings that show it. Where there are two, a call picks one at random:
# they differ in details a tracker must not depend on (the Cdr/Hangup order in 01 vs A1; a
# member rejecting with 486 before another answers in A4).
SCENARIOS: dict[str, tuple[str, ...]] = {
    "direct_answered": ("A1_persian_name_direct_answered", "01_direct_answered"),
    "direct_missed": ("02_direct_noanswer",),
    "direct_busy": ("03_direct_busy",),
    "queue_answered": ("04_queue_answered", "A4_persian_name_queue_answered"),
    "queue_abandoned": ("05_queue_abandoned",),
    "click_to_call": ("06_click_to_call",),
    "click_to_call_agent_no_answer": ("A2_click_to_call_agent_no_answer",),
    "click_to_call_customer_busy": ("A3_click_to_call_customer_busy",),
    "blind_transfer": ("07_blind_transfer",),
    "attended_transfer": ("08_attended_transfer",),
}

# The agents of the recording PBX, as they appear in the templates.
RECORDED_AGENTS = DEFAULT_AGENTS

_UID_KEY = re.compile(r"(?i).*(uniqueid|linkedid)$")
_UID_VALUE = re.compile(r"\d+\.\d+")
_ISO = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}"
_DATETIME = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_RECORDING = rb"(?<=/)\d{8}-\d{6}(?=-)"
_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CHANNEL = rb"(?:PJSIP|SIP|IAX2|DAHDI|Local)/[^\s,;\"<>|/]+?-[0-9a-f]{8}(?![0-9a-f])"


@dataclass(frozen=True)
class Template:
    name: str
    scenario: str
    messages: tuple[bytes, ...]  # the call's events, without terminators
    offsets: tuple[float, ...]  # seconds from the first event
    event_names: tuple[bytes, ...]
    start_time: float  # the recording's clock at the first event
    customer_number: bytes | None
    customer_name: bytes | None
    action_id: bytes | None  # the recorded Originate's ActionID (click-to-call)
    callerid_name: bytes | None  # the recorded Originate's CallerID name, if it had one
    duration: float = 0.0
    # The template split once, at load, into literal text and identifier tokens: rendering
    # a call is then a join, not a regex pass (10x faster; the benchmark needs it).
    _literals: tuple[bytes, ...] = ()  # one more than _slots
    _slots: tuple[int, ...] = ()  # index into _tokens for each gap between literals
    _tokens: tuple[tuple[str, bytes], ...] = ()  # distinct (kind, text), first seen first
    _times: dict[bytes, float] = field(default_factory=dict, repr=False)

    @classmethod
    def from_recording(cls, recording: Recording, scenario: str) -> Template:
        kept = [m for m in recording.messages() if _belongs_to_call(m.raw)]
        if not kept:
            raise ValueError(f"{recording.name}: no call events")
        return cls.from_messages(
            recording.name, scenario, [m.raw for m in kept], [m.time for m in kept]
        )

    @classmethod
    def from_messages(
        cls, label: str, scenario: str, raws: Sequence[bytes], arrivals: Sequence[float]
    ) -> Template:
        """A template of these call events (without terminators), sent at ``arrivals``."""
        if not raws or len(raws) != len(arrivals):
            raise ValueError(f"{label}: no call events, or not one time per event")
        messages = tuple(raws)
        start = arrivals[0]
        parsed = [parse_fields(raw) for raw in messages]
        number, name = _customer(parsed)
        originate = next((f for f in parsed if get(f, "Event") == "OriginateResponse"), None)
        action_id = get(originate, "ActionID").encode() if originate else None
        callerid_name = None
        if originate is not None and get(originate, "CallerIDName") not in ("", "<unknown>"):
            callerid_name = get(originate, "CallerIDName").encode()
        uids = sorted(
            {v for f in parsed for k, v in f if _UID_KEY.match(k) and _UID_VALUE.fullmatch(v)},
            key=lambda u: (len(u), u),
            reverse=True,
        )
        text = TERMINATOR.join(messages) + TERMINATOR
        pattern = _compile(uids, number, name, action_id, callerid_name)
        times = {m.group(): _parse_time(m.group()) for m in re.finditer(_ISO, text)}
        times |= {m.group(): _parse_time(m.group()) for m in re.finditer(_DATETIME, text)}
        times |= {m.group(): _parse_time(m.group()) for m in re.finditer(_RECORDING, text)}
        offsets = tuple(t - start for t in arrivals)
        literals, slots, tokens = _tokenize(pattern, text)
        return cls(
            name=label,
            scenario=scenario,
            messages=messages,
            offsets=offsets,
            event_names=tuple(event_name(raw) or b"" for raw in messages),
            start_time=start,
            customer_number=number,
            customer_name=name,
            action_id=action_id,
            callerid_name=callerid_name,
            duration=offsets[-1],
            _literals=literals,
            _slots=slots,
            _tokens=tokens,
            _times=times,
        )

    def render(self, call: CallParams, ids: IdAllocator) -> list[bytes]:
        """The template's messages for one new call (same count and order)."""
        shift = call.start - self.start_time
        agents = dict(
            zip((a.extension.encode() for a in RECORDED_AGENTS), call.agents, strict=False)
        )
        agent_names = {
            a.name.encode(): b.name.encode()
            for a, b in zip(RECORDED_AGENTS, call.agents, strict=False)
        }
        rng = call.rng

        def channel(old: bytes) -> bytes:
            tech_ep, _, _suffix = old.rpartition(b"-")
            tech, _, endpoint = tech_ep.partition(b"/")
            agent = agents.get(endpoint)
            new_ep = agent.extension.encode() if agent else endpoint
            return tech + b"/" + new_ep + b"-" + ids.channel_suffix()

        def uniqueid(old: bytes) -> bytes:
            epoch, _, _seq = old.partition(b".")
            return ids.uniqueid(int(int(epoch) + shift))

        replace: dict[str, Callable[[bytes], bytes]] = {
            "uid": uniqueid,
            "chan": channel,
            "uuid": lambda _old: str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode(),
            "iso": lambda old: _format_time(self._times[old] + shift, "iso"),
            "dt": lambda old: _format_time(self._times[old] + shift, "dt"),
            "rec": lambda old: _format_time(self._times[old] + shift, "rec"),
            "login": lambda _old: str(int(call.login_time)).encode(),
            "lastcall": lambda old: str(int(int(old) + shift)).encode(),
            "num": lambda _old: call.number,
            "name": lambda old: call.name if call.name is not None else old,
            "aid": lambda old: _action_id_line(old, call.action_id),
            "cidname": lambda old: call.callerid_name if call.callerid_name is not None else old,
            "agent": lambda old: agents[old].extension.encode() if old in agents else old,
            "agentname": lambda old: agent_names.get(old, old),
        }
        # In order of first appearance, so new channel numbers and Uniqueid sequence numbers
        # follow the order the channels were created in.
        new = [replace[kind](old) for kind, old in self._tokens]
        parts = [self._literals[0]]
        for slot, literal in zip(self._slots, self._literals[1:], strict=True):
            parts.append(new[slot])
            parts.append(literal)
        return b"".join(parts).split(TERMINATOR)[:-1]


@dataclass
class IdAllocator:
    """The PBX-wide counters behind channel names and Uniqueids. Both restart from zero
    when the PBX restarts, as Asterisk's do."""

    channels: int = 0
    sequence: int = 0

    def channel_suffix(self) -> bytes:
        value = self.channels
        self.channels += 1
        return b"%08x" % (value & 0xFFFFFFFF)

    def uniqueid(self, epoch: int) -> bytes:
        value = self.sequence
        self.sequence += 1
        return b"%d.%d" % (epoch, value)

    def reset(self) -> None:
        self.channels = 0
        self.sequence = 0


@dataclass(frozen=True)
class CallParams:
    """Who and when: everything that makes a generated call different from its template."""

    start: float  # unix time the call starts (the template's clock is shifted to it)
    number: bytes
    name: bytes | None
    agents: tuple[Agent, ...]  # who plays the recording's 1001, 1002 and 1003
    rng: Random
    login_time: float = 0.0  # the queue members' LoginTime (the PBX's boot time)
    action_id: bytes | None = None
    callerid_name: bytes | None = None


def load_templates(
    trace_dir: Path, scenarios: Mapping[str, tuple[str, ...]] = SCENARIOS
) -> dict[str, list[Template]]:
    """Every scenario's templates, read from the recordings in ``trace_dir``."""
    out: dict[str, list[Template]] = {}
    for scenario, names in scenarios.items():
        out[scenario] = [
            Template.from_recording(Recording.load(trace_dir / f"{name}.ami"), scenario)
            for name in names
        ]
    return out


def _belongs_to_call(raw: bytes) -> bool:
    # Responses answered the recorder's own actions, and the AMI SuccessfulAuth is its login:
    # neither is part of the call.
    if not raw.startswith(b"Event: "):
        return False
    return not (raw.startswith(b"Event: SuccessfulAuth\r\n") and b"\r\nService: AMI\r\n" in raw)


def _customer(parsed: list[list[tuple[str, str]]]) -> tuple[bytes | None, bytes | None]:
    """The customer: the carrier leg's caller id on an inbound call, the Originate's Exten on
    a click-to-call."""
    for fields in parsed:
        if get(fields, "Event") == "OriginateResponse":
            return get(fields, "Exten").encode("utf-8", "surrogateescape"), None
    for fields in parsed:
        if get(fields, "Event") == "Newchannel" and get(fields, "Channel").startswith(
            "PJSIP/trunk-"
        ):
            number = get(fields, "CallerIDNum")
            name = get(fields, "CallerIDName")
            return (
                number.encode("utf-8", "surrogateescape"),
                None if name in ("", "<unknown>") else name.encode("utf-8", "surrogateescape"),
            )
    return None, None


def _compile(
    uids: list[str],
    number: bytes | None,
    name: bytes | None,
    action_id: bytes | None,
    callerid_name: bytes | None,
) -> re.Pattern[bytes]:
    parts = [
        rb"(?P<uuid>" + _UUID + rb")",
        rb"(?P<chan>" + _CHANNEL + rb")",
        rb"(?P<iso>" + _ISO + rb")",
        rb"(?P<dt>" + _DATETIME + rb")",
        rb"(?P<rec>" + _RECORDING + rb")",
        rb"(?P<login>(?<=\nLoginTime: )\d+)",
        rb"(?P<lastcall>(?<=\nLastCall: )[1-9]\d*)",
    ]
    if uids:
        alternatives = b"|".join(re.escape(u.encode()) for u in uids)
        parts.append(rb"(?P<uid>(?<![\d.])(?:" + alternatives + rb")(?!\d))")
    if number:
        parts.append(rb"(?P<num>(?<![\d+])" + re.escape(number) + rb"(?!\d))")
    if name:
        parts.append(rb"(?P<name>" + re.escape(name) + rb")")
    if action_id:
        parts.append(rb"(?P<aid>\r\nActionID: " + re.escape(action_id) + rb"(?=\r\n))")
    if callerid_name:
        parts.append(rb"(?P<cidname>" + re.escape(callerid_name) + rb")")
    extensions = b"|".join(re.escape(a.extension.encode()) for a in RECORDED_AGENTS)
    names = b"|".join(re.escape(a.name.encode()) for a in RECORDED_AGENTS)
    parts.append(rb"(?P<agent>(?<![0-9A-Za-z])(?:" + extensions + rb")(?![0-9A-Za-z]))")
    parts.append(rb"(?P<agentname>" + names + rb")")
    return re.compile(b"|".join(parts))


def _tokenize(
    pattern: re.Pattern[bytes], text: bytes
) -> tuple[tuple[bytes, ...], tuple[int, ...], tuple[tuple[str, bytes], ...]]:
    literals: list[bytes] = []
    slots: list[int] = []
    index: dict[tuple[str, bytes], int] = {}
    pos = 0
    for match in pattern.finditer(text):
        literals.append(text[pos : match.start()])
        token = (match.lastgroup or "", match.group())
        slots.append(index.setdefault(token, len(index)))
        pos = match.end()
    literals.append(text[pos:])
    return tuple(literals), tuple(slots), tuple(index)


def _action_id_line(old: bytes, new: bytes | None) -> bytes:
    """The OriginateResponse's ActionID line: the requester's id, or no line at all when
    its Originate had none (as Asterisk writes it)."""
    if new is None:
        return old
    return b"\r\nActionID: " + new if new else b""


def _parse_time(text: bytes) -> float:
    value = text.decode()
    if "T" in value:  # 2026-11-22T11:33:03.108+0000 (the PBX ran on UTC)
        whole, _, rest = value.partition(".")
        millis = int(rest[:3])
        sign = 1 if rest[3] == "+" else -1
        offset = sign * (int(rest[4:6]) * 3600 + int(rest[6:8]) * 60)
        return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - offset + millis / 1000
    if " " in value:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%d %H:%M:%S")))
    return float(calendar.timegm(time.strptime(value, "%Y%m%d-%H%M%S")))


def _format_time(when: float, kind: str) -> bytes:
    if kind == "iso":
        seconds, millis = divmod(round(when * 1000), 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{stamp}.{millis:03d}+0000".encode()
    moment = time.gmtime(when)
    if kind == "dt":
        return time.strftime("%Y-%m-%d %H:%M:%S", moment).encode()
    return time.strftime("%Y%m%d-%H%M%S", moment).encode()
