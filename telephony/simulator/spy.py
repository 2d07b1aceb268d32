"""``Originate`` of a supervisor's phone into ChanSpy, as Asterisk 22 plays it through the
``[tamas-spy]`` context of ``asterisk-dev/etc/asterisk/extensions_tamas.conf`` (pure: the
request and the PBX's channels in, the events out).

Each extension there runs ``ChanSpy(${TAMAS_SPY_CHANNEL},<options>)``; the simulator plays
the same dialplan: the supervisor's channel is created and rings, answers, the
OriginateResponse says so (``fast_originate`` sends it once the channel is up, before the
dialplan runs), the Newexten of each step, ``ChanSpyStart``; when the spied channel hangs
up, ``ChanSpyStop`` and the supervisor's channel hangs up (ChanSpy's ``E`` and ``S``
options). A spied channel that is not up makes ChanSpy return at once (``S``).
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.simulator.originate import OriginateRequest
from telephony.simulator.protocol import Fields, format_message
from telephony.simulator.state import CHANNEL_KEYS, Channel

SPY_CONTEXT = "tamas-spy"
# The [tamas-spy] extensions and their ChanSpy options, as the shipped dialplan has them.
SPY_OPTIONS = {"listen": "qbES", "whisper": "qbwES", "barge": "qbBES"}
SPY_VARIABLE = "TAMAS_SPY_CHANNEL"


@dataclass
class Spy:
    """One supervisor's channel in ChanSpy."""

    block: dict[str, str]  # the supervisor's channel block, as its events show it
    spyee: str  # the spied channel's name
    spyee_block: dict[str, str]
    priority: int  # the dialplan step it is at


def target_of(request: OriginateRequest) -> str:
    return next((v for k, v in request.variables if k.lstrip("_") == SPY_VARIABLE), "")


def new_block(
    request: OriginateRequest, channel: str, uniqueid: str, number: str, name: str
) -> dict[str, str]:
    """The supervisor's new channel as chan_pjsip makes it: its endpoint's own caller id,
    context (``agents`` on the recording PBX) and ``s``, until the Originate's apply."""
    return {
        "Channel": channel,
        "ChannelState": "0",
        "ChannelStateDesc": "Down",
        "CallerIDNum": number or "<unknown>",
        "CallerIDName": name or "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": "agents",
        "Exten": "s",
        "Priority": "1",
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
    }


def _event(name: str, privilege: str, block: dict[str, str], *extra: tuple[str, str]) -> bytes:
    pairs: Fields = [("Event", name), ("Privilege", privilege)]
    pairs += [(k, block[k]) for k in CHANNEL_KEYS]
    pairs += list(extra)
    return format_message(pairs)[:-4]


def _state(block: dict[str, str], number: str, desc: str) -> None:
    block["ChannelState"], block["ChannelStateDesc"] = number, desc


def _exten(block: dict[str, str], priority: int, app: str, data: str) -> bytes:
    block["Priority"] = str(priority)
    return _event(
        "Newexten",
        "dialplan,all",
        block,
        ("Extension", block["Exten"]),
        ("Application", app),
        ("AppData", data),
    )


def _prefixed(prefix: str, block: dict[str, str]) -> Fields:
    return [(prefix + key, block[key]) for key in CHANNEL_KEYS]


def start(
    request: OriginateRequest,
    channel: str,
    uniqueid: str,
    owner: tuple[str, str],
    spyee: Channel | None,
) -> tuple[list[tuple[bytes, float]], Spy | None]:
    """The events (with their offsets in seconds) of the supervisor's phone (``owner``: its
    extension and name) ringing, answering and entering ChanSpy, in the order of the
    recorded click-to-call (06); the Spy it becomes, or None when ChanSpy returned at once
    (nothing to spy on: the events then end with its hangup)."""
    block = new_block(request, channel, uniqueid, *owner)
    target = target_of(request)
    options = SPY_OPTIONS.get(request.exten)
    out: list[tuple[bytes, float]] = [
        (_event("Newchannel", "call,all", block), 0.0),
        (_exten(block, 1, "AppDial2", "(Outgoing Line)"), 0.0),
    ]
    for name, value in reversed(request.variables):  # manager.c sets them last one first
        out.append(
            (_event("VarSet", "dialplan,all", block, ("Variable", name), ("Value", value)), 0.0)
        )
    block["CallerIDNum"] = block["ConnectedLineNum"] = request.callerid_num or "<unknown>"
    block["CallerIDName"] = block["ConnectedLineName"] = request.callerid_name or "<unknown>"
    _state(block, "5", "Ringing")
    out.append((_event("Newstate", "call,all", block), 0.05))
    _state(block, "6", "Up")
    out.append((_event("Newstate", "call,all", block), 0.4))
    block["Context"], block["Exten"] = request.context, request.exten
    if options is None:
        # No such extension in [tamas-spy]: pbx.c hangs the channel up.
        out.append((response(request, block, "Success", 4), 0.4))
        out += hangup(block, cause=1, text="Unallocated (unassigned) number", at=0.4)
        return out, None
    out.append((_exten(block, 1, "NoOp", f"Tamas supervision: {request.exten} {target}"), 0.4))
    out.append((response(request, block, "Success", 4), 0.4))
    out.append((_exten(block, 2, "GotoIf", f"{int(not target)}?done"), 0.4))
    if not target:
        out.append((_exten(block, 4, "Hangup", ""), 0.4))
        out += hangup(block, cause=16, text="Normal Clearing", at=0.4)
        return out, None
    out.append((_exten(block, 3, "ChanSpy", f"{target},{options}"), 0.4))
    if spyee is None:
        out.append((_exten(block, 4, "Hangup", ""), 0.45))
        out += hangup(block, cause=16, text="Normal Clearing", at=0.45)
        return out, None
    out.append(
        (
            format_message(
                [
                    ("Event", "ChanSpyStart"),
                    ("Privilege", "call,all"),
                    *_prefixed("Spyer", block),
                    *_prefixed("Spyee", spyee.block),
                ]
            )[:-4],
            0.45,
        )
    )
    return out, Spy(dict(block), spyee.block["Channel"], dict(spyee.block), 3)


def stopped(spy: Spy) -> list[bytes]:
    """ChanSpy ending on the supervisor's channel."""
    return [
        format_message(
            [
                ("Event", "ChanSpyStop"),
                ("Privilege", "call,all"),
                *_prefixed("Spyer", spy.block),
                *_prefixed("Spyee", spy.spyee_block),
            ]
        )[:-4],
    ]


def stop(spy: Spy) -> list[bytes]:
    """The spied channel hung up: ChanSpy stops, its channel goes on to Hangup()."""
    events = [*stopped(spy), _exten(spy.block, 4, "Hangup", "")]
    return events + [raw for raw, _ in hangup(spy.block, cause=16, text="Normal Clearing", at=0)]


def response(request: OriginateRequest, block: dict[str, str], result: str, reason: int) -> bytes:
    pairs: Fields = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if request.action_id:
        pairs.append(("ActionID", request.action_id))
    pairs += [
        ("Response", result),
        ("Channel", block["Channel"]),
        ("Context", request.context),
        ("Exten", request.exten),
        ("Reason", str(reason)),
        ("Uniqueid", block["Uniqueid"]),
        ("CallerIDNum", request.callerid_num or "<unknown>"),
        ("CallerIDName", request.callerid_name or "<unknown>"),
    ]
    return format_message(pairs)[:-4]


def hangup(block: dict[str, str], *, cause: int, text: str, at: float) -> list[tuple[bytes, float]]:
    return [
        (_event("HangupRequest", "call,all", block, ("Cause", str(cause))), at),
        (_event("Hangup", "call,all", block, ("Cause", str(cause)), ("Cause-txt", text)), at),
    ]
