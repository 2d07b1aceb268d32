"""What an ``Originate`` does on the simulated PBX, in Asterisk 22's own event shapes.

An originated call is played from a recorded click-to-call (06, A2, A3) with the request's
parts put in: its ActionID, number, Context and CallerID in the ``OriginateResponse`` (as
``manager.c``'s ``fast_originate`` writes it), and its ``Variable:`` headers as VarSet
events. Outcomes the recordings do not show are derived from them by changing only what
Asterisk would change:

* the customer leg failing otherwise than busy (A3 with another cause, everywhere the cause
  or the dial status shows);
* no channel at all (an unreachable or busy agent device): only a failed
  ``OriginateResponse``, like A2's but with its own ``Reason``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telephony.simulator.generator import GeneratedCall
from telephony.simulator.protocol import Fields, encode, format_message, get, parse_fields
from telephony.simulator.templates import Template

# Outcome -> the scenario whose recordings it is played from.
CHANNEL_OUTCOMES: dict[str, str] = {
    "answered": "click_to_call",
    "agent_no_answer": "click_to_call_agent_no_answer",
    "customer_busy": "click_to_call_customer_busy",
    "customer_no_answer": "click_to_call_customer_busy",
    "congestion": "click_to_call_customer_busy",
    "invalid_number": "click_to_call_customer_busy",
}
# Outcomes where no channel ever comes up, with the OriginateResponse Reason (pbx.c's
# pbx_dial_reason: 0 the request failed, 5 AST_CONTROL_BUSY).
NO_CHANNEL_OUTCOMES: dict[str, int] = {"device_offline": 0, "agent_busy": 5}
OUTCOMES = (*CHANNEL_OUTCOMES, *NO_CHANNEL_OUTCOMES)
# The scenario names the simulator took before it had outcomes.
_ALIASES = {
    "click_to_call": "answered",
    "click_to_call_agent_no_answer": "agent_no_answer",
    "click_to_call_customer_busy": "customer_busy",
}

UNKNOWN = "<unknown>"


def outcome_name(name: str) -> str:
    """The outcome ``name`` stands for (an outcome or an old scenario name)."""
    outcome = _ALIASES.get(name, name)
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown originate outcome {name!r} (one of {', '.join(OUTCOMES)})")
    return outcome


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """One Originate as the simulator received it."""

    endpoint: str  # PJSIP/1001 -> "1001"
    exten: str  # the number to call
    action_id: str
    callerid_name: str
    callerid_num: str = ""
    channel: str = ""  # as requested, e.g. "PJSIP/1001"
    context: str = ""
    variables: tuple[tuple[str, str], ...] = ()  # NAME=value pairs, in the order sent


def parse_variables(headers: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The pairs of an action's ``Variable:`` headers, in the order sent. A header may hold
    several pairs separated by commas; a pair without ``=`` or without a name is skipped
    (manager.c's man_do_variable_value)."""
    pairs: list[tuple[str, str]] = []
    for header in headers:
        for item in _separate_args(header.lstrip()):
            name, sep, value = item.partition("=")
            if sep and name:
                pairs.append((name, value))
    return tuple(pairs)


def _separate_args(text: str) -> list[str]:
    """Split on commas as Asterisk's standard application arguments are split: not inside
    parentheses, brackets or double quotes; quotes and backslash escapes removed."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif quoted:
            current.append(char)
        elif char in "([":
            depth += 1
            current.append(char)
        elif char in ")]":
            depth = max(depth - 1, 0)
            current.append(char)
        elif char == "," and not depth:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
    args.append("".join(current))
    return args


# --- no channel -----------------------------------------------------------------------


def no_channel_call(request: OriginateRequest, outcome: str) -> GeneratedCall:
    """The whole of an Originate that got no channel up: its failed OriginateResponse."""
    return GeneratedCall(
        scenario=outcome,
        template="",
        number=encode(request.exten),
        name=None,
        messages=[response(request, "Failure", NO_CHANNEL_OUTCOMES[outcome])],
        event_names=(b"OriginateResponse",),
        offsets=(0.0,),
    )


def response(request: OriginateRequest, result: str, reason: int) -> bytes:
    """An OriginateResponse without a channel (Channel: the dial string as requested)."""
    pairs: Fields = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if request.action_id:
        pairs.append(("ActionID", request.action_id))
    pairs += [
        ("Response", result),
        ("Channel", request.channel),
        ("Context", request.context),
        ("Exten", request.exten),
        ("Reason", str(reason)),
        ("Uniqueid", UNKNOWN),
        ("CallerIDNum", request.callerid_num or UNKNOWN),
        ("CallerIDName", request.callerid_name or UNKNOWN),
    ]
    return format_message(pairs)[:-4]


# --- the customer leg failing -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegFailure:
    """How the dialled (customer) leg ended, as each place that shows it says it."""

    dialstatus: str  # DIALSTATUS of the calling channel (app_dial's handle_cause counts)
    dial_end: str  # DialEnd DialStatus (ast_hangup_cause_to_dial_status)
    cause: int  # Q.850, with ast_cause2str's text
    cause_txt: str
    tech_cause: int  # the carrier's SIP final response (chan_pjsip maps it to ``cause``)
    disposition: str  # the Dial's Cdr (cdr.c, with cdr.conf's congestion=no)


CUSTOMER_FAILURES: dict[str, LegFailure] = {
    "customer_no_answer": LegFailure(
        "NOANSWER", "NOANSWER", 19, "User alerting, no answer", 480, "NO ANSWER"
    ),
    "congestion": LegFailure(
        "CONGESTION", "CONGESTION", 34, "Circuit/channel congestion", 503, "FAILED"
    ),
    # Cause 1 is none of the causes ast_hangup_cause_to_dial_status names, so DialEnd says
    # NOANSWER while app_dial counts it as "no channel": DIALSTATUS CHANUNAVAIL.
    "invalid_number": LegFailure(
        "CHANUNAVAIL", "NOANSWER", 1, "Unallocated (unassigned) number", 404, "NO ANSWER"
    ),
}


def fail_customer_leg(template: Template, outcome: str) -> Template:
    """``template`` (a click-to-call whose customer leg failed) with that leg failing as
    ``outcome`` says instead; every other byte as recorded."""
    failure = CUSTOMER_FAILURES[outcome]
    parsed = [parse_fields(raw) for raw in template.messages]
    layout = _Layout.of(parsed)
    callee = layout.callee
    if callee is None:
        raise ValueError(f"{template.name}: no dialled leg")
    hangup = next(f for f in parsed if _is(f, "Hangup", callee))
    end = next(f for f in parsed if _event(f) == "DialEnd" and get(f, "DestUniqueid") == callee)
    old = _Recorded(
        cause=get(hangup, "Cause"),
        tech_cause=get(hangup, "TechCause"),
        dial_end=get(end, "DialStatus"),
        dialstatus=next(
            (
                get(f, "Value")
                for f in parsed
                if _is(f, "VarSet", layout.caller)
                and get(f, "Variable") == "DIALSTATUS"
                and get(f, "Value")
            ),
            get(end, "DialStatus"),
        ),
        channel=get(hangup, "Channel"),
    )
    messages = []
    for raw, fields in zip(template.messages, parsed, strict=True):
        changed = _with_failure(fields, layout.caller, callee, old, failure)
        messages.append(raw if changed is None else format_message(changed)[:-4])
    times = [template.start_time + offset for offset in template.offsets]
    return Template.from_messages(template.name, template.scenario, messages, times)


@dataclass(frozen=True, slots=True)
class _Recorded:
    cause: str
    tech_cause: str
    dial_end: str
    dialstatus: str
    channel: str


def _with_failure(
    fields: Fields, caller: str, callee: str, old: _Recorded, new: LegFailure
) -> Fields | None:
    event = _event(fields)
    uniqueid = get(fields, "Uniqueid")
    values: dict[str, str] = {}
    if event in ("HangupRequest", "Hangup") and (
        uniqueid == callee or (uniqueid == caller and get(fields, "Cause") == old.cause)
    ):
        # The calling leg's cause is the one Dial copied from the dialled leg.
        values = {"Cause": str(new.cause), "Cause-txt": new.cause_txt}
        if get(fields, "TechCause") == old.tech_cause:
            values["TechCause"] = str(new.tech_cause)
    elif event == "DialEnd" and get(fields, "DestUniqueid") == callee:
        values = {"DialStatus": new.dial_end}
    elif event == "VarSet" and uniqueid == caller and get(fields, "Variable") == "DIALSTATUS":
        if get(fields, "Value") == old.dialstatus:
            values = {"Value": new.dialstatus}
    elif event == "Newexten" and uniqueid == caller:
        # The dialplan showing ${DIALSTATUS}, e.g. NoOp(DIALSTATUS=${DIALSTATUS}).
        data = get(fields, "AppData")
        shown = f"DIALSTATUS={old.dialstatus}"
        if shown in data:
            values = {"AppData": data.replace(shown, f"DIALSTATUS={new.dialstatus}")}
    elif event == "Cdr" and get(fields, "DestinationChannel") == old.channel:
        values = {"Disposition": new.disposition}
    elif event == "CEL" and get(fields, "UniqueID") in (caller, callee):
        extra = _cel_extra(get(fields, "Extra"), old, new)
        if extra is not None:
            values = {"Extra": extra}
    if not values:
        return None
    return [(key, values.get(key, value)) for key, value in fields]


def _cel_extra(extra: str, old: _Recorded, new: LegFailure) -> str | None:
    if not extra.startswith("{"):
        return None
    data = json.loads(extra)
    changed = False
    if str(data.get("hangupcause")) == old.cause:
        data["hangupcause"] = new.cause
        changed = True
    if data.get("dialstatus") and data["dialstatus"] == old.dialstatus:
        data["dialstatus"] = new.dialstatus
        changed = True
    # Asterisk writes the CEL extra as compact JSON.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) if changed else None


# --- a recording as the answer to Originates ----------------------------------------------


@dataclass(frozen=True)
class Originated:
    """A recorded click-to-call ready to answer Originates: without the VarSets of the
    recording's own Originate variables, and with where the requested ones go."""

    template: Template
    agent_at: int  # where the VarSets go on the originated (agent's) channel
    trunk_at: int | None  # on the dialled (customer's) channel, if the call dials one
    trunk_inherited: frozenset[str]  # what the dialplan passed on already (bare names)
    response_at: int  # the OriginateResponse

    @classmethod
    def prepare(cls, template: Template) -> Originated:
        parsed = [parse_fields(raw) for raw in template.messages]
        drop = _Layout.of(parsed).originate_varsets(parsed)
        if drop:
            keep = [i for i in range(len(parsed)) if i not in drop]
            template = Template.from_messages(
                template.name,
                template.scenario,
                [template.messages[i] for i in keep],
                [template.start_time + template.offsets[i] for i in keep],
            )
            parsed = [parsed[i] for i in keep]
        layout = _Layout.of(parsed)
        trunk_at: int | None = None
        inherited: list[str] = []
        if layout.callee is not None:
            trunk_at, inherited = layout.inherited_run(parsed)
        response_at = next(i for i, f in enumerate(parsed) if _event(f) == "OriginateResponse")
        return cls(
            template=template,
            agent_at=layout.agent_vars_at(parsed),
            trunk_at=trunk_at,
            trunk_inherited=frozenset(inherited),
            response_at=response_at,
        )

    def answer(self, call: GeneratedCall, request: OriginateRequest) -> GeneratedCall:
        """``call`` (rendered from this template) as the answer to ``request``."""
        messages = list(call.messages)
        messages[self.response_at] = _response_for(messages[self.response_at], request)
        call = dataclasses.replace(call, messages=messages)
        if not request.variables:
            return call
        # manager.c prepends each pair to its list: Asterisk sets them last one first.
        set_order = list(reversed(request.variables))
        inserts = [(self.agent_at, set_order)]
        if self.trunk_at is not None:
            inserts.append((self.trunk_at, _inherited(set_order, self.trunk_inherited)))
        return _insert_varsets(call, inserts)


def _response_for(raw: bytes, request: OriginateRequest) -> bytes:
    fields = parse_fields(raw)
    failed = get(fields, "Response") == "Failure"
    values = {
        "Context": request.context,
        "Exten": request.exten,
        # fast_originate reports the request's caller id, not the channel's.
        "CallerIDNum": request.callerid_num or UNKNOWN,
        "CallerIDName": request.callerid_name or UNKNOWN,
    }
    if failed:
        values["Channel"] = request.channel  # no channel: the dial string as requested
    return format_message([(key, values.get(key, value)) for key, value in fields])[:-4]


def _inherited(
    set_order: Sequence[tuple[str, str]], passed: frozenset[str]
) -> list[tuple[str, str]]:
    """What the dialled channel inherits of the variables set on the calling one, in
    ast_channel_inherit_variables' order: the caller's list, newest first (every set puts
    the variable at its head). ``__NAME`` keeps its underscores, ``_NAME`` loses its one.
    The dialplan set the ``passed`` ones later, replacing any requested of that name."""
    newest_first: list[tuple[str, str]] = []
    for name, value in set_order:
        newest_first = [(n, v) for n, v in newest_first if _bare(n) != _bare(name)]
        newest_first.insert(0, (name, value))
    return [
        (name if name.startswith("__") else name[1:], value)
        for name, value in newest_first
        if name.startswith("_") and _bare(name) not in passed
    ]


def _insert_varsets(
    call: GeneratedCall, inserts: Sequence[tuple[int, Sequence[tuple[str, str]]]]
) -> GeneratedCall:
    messages, names, offsets = list(call.messages), list(call.event_names), list(call.offsets)
    for at, variables in sorted(inserts, reverse=True):
        block = _channel_block(messages[at - 1])
        new = [_varset(block, name, value) for name, value in variables]
        messages[at:at] = new
        names[at:at] = [b"VarSet"] * len(new)
        offsets[at:at] = [offsets[at - 1]] * len(new)
    return dataclasses.replace(
        call, messages=messages, event_names=tuple(names), offsets=tuple(offsets)
    )


def _channel_block(raw: bytes) -> bytes:
    """The ``Channel:`` ... ``Linkedid:`` lines of a channel event."""
    start = raw.index(b"\r\nChannel: ") + 2
    end = raw.find(b"\r\n", raw.index(b"\r\nLinkedid: ", start) + 2)
    return raw[start:] if end < 0 else raw[start:end]


def _varset(block: bytes, name: str, value: str) -> bytes:
    return (
        b"Event: VarSet\r\nPrivilege: dialplan,all\r\n"
        + block
        + b"\r\nVariable: "
        + encode(name)
        + b"\r\nValue: "
        + encode(value)
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """Who is who in a click-to-call: the originated channel and the channel it dials."""

    caller: str  # the originated (agent's) channel's Uniqueid
    callee: str | None  # the dialled (customer's) channel's, if it dials one
    dial_begin: int  # the originated channel's own DialBegin (only Dest* keys)

    @classmethod
    def of(cls, parsed: Sequence[Fields]) -> _Layout:
        # The DialBegin of an originated channel has only the Dest block (06, A2, A3).
        begin = next(
            i for i, f in enumerate(parsed) if _event(f) == "DialBegin" and not get(f, "Uniqueid")
        )
        caller = get(parsed[begin], "DestUniqueid")
        callee = next(
            (
                get(f, "DestUniqueid")
                for f in parsed
                if _event(f) == "DialBegin" and get(f, "Uniqueid") == caller
            ),
            None,
        )
        return cls(caller, callee, begin)

    def originate_varsets(self, parsed: Sequence[Fields]) -> set[int]:
        """The VarSets of the recording's own Originate variables: those set on the
        originated channel before it is dialled (pbx.c sets them between its creation and
        the call), and their copies on the dialled channel."""
        created = next(i for i, f in enumerate(parsed) if _is(f, "Newchannel", self.caller))
        own = {
            i for i in range(created + 1, self.dial_begin) if _is(parsed[i], "VarSet", self.caller)
        }
        if self.callee is None:
            return own
        copies = set(
            _inherited(
                [(get(parsed[i], "Variable"), get(parsed[i], "Value")) for i in own], frozenset()
            )
        )
        run, _names = self.inherited_run(parsed)
        start = next(i for i, f in enumerate(parsed) if _is(f, "Newchannel", self.callee))
        return own | {
            i
            for i in range(start + 1, run)
            if (get(parsed[i], "Variable"), get(parsed[i], "Value")) in copies
        }

    def agent_vars_at(self, parsed: Sequence[Fields]) -> int:
        """Right after the originated channel's Newchannel and the AppDial2 Newexten that
        comes with it (dial.c's prerun names the application before pbx.c sets the
        variables)."""
        at = next(i for i, f in enumerate(parsed) if _is(f, "Newchannel", self.caller)) + 1
        if at < len(parsed) and _is(parsed[at], "Newexten", self.caller):
            at += 1
        return at

    def inherited_run(self, parsed: Sequence[Fields]) -> tuple[int, list[str]]:
        """The end of the VarSets right after the dialled channel's Newchannel (what it
        inherited), and their bare names."""
        assert self.callee is not None
        at = next(i for i, f in enumerate(parsed) if _is(f, "Newchannel", self.callee)) + 1
        names = []
        while at < len(parsed) and _is(parsed[at], "VarSet", self.callee):
            names.append(_bare(get(parsed[at], "Variable")))
            at += 1
        return at, names


def _event(fields: Fields) -> str:
    return get(fields, "Event")


def _is(fields: Fields, event: str, uniqueid: str | None) -> bool:
    return _event(fields) == event and get(fields, "Uniqueid") == uniqueid


def _bare(name: str) -> str:
    """A variable's name without the one or two underscores that make it inherited."""
    return name[2:] if name.startswith("__") else name.removeprefix("_")


def originate_templates(
    templates: Mapping[str, Sequence[Template]],
) -> dict[str, list[Originated]]:
    """Every channel outcome's recordings, ready to answer Originates."""
    out: dict[str, list[Originated]] = {}
    for outcome, scenario in CHANNEL_OUTCOMES.items():
        sources = templates[scenario]
        if outcome in CUSTOMER_FAILURES:
            sources = [fail_customer_leg(t, outcome) for t in sources]
        out[outcome] = [Originated.prepare(t) for t in sources]
    return out
