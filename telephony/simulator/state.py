"""What is up on the simulated PBX, learned from the events it sent (pure: no socket).

A client that (re)connects asks ``CoreShowChannels`` and ``QueueStatus`` to resync. The
answers must describe exactly what the event stream said is up at that moment, whether the
stream was replayed from a recording or generated, so the table is fed from the sent events
themselves rather than from any plan of what should happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.simulator.protocol import Fields, format_message, get, list_ack

# The channel block every channel event carries, in Asterisk's order.
CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)

# QueueMemberStatus carries these; the QueueMember item of QueueStatus shows most of them.
MEMBER_KEYS = (
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
)


@dataclass(frozen=True, slots=True)
class Agent:
    """A queue member / desk phone of the simulated PBX."""

    extension: str
    name: str

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.extension}"


# The recording PBX's configuration (see the traces README).
DEFAULT_AGENTS = (
    Agent("1001", "Sara Ahmadi"),
    Agent("1002", "Reza Karimi"),
    Agent("1003", "Maryam Hosseini"),
)
DEFAULT_QUEUE = "support"


@dataclass
class Channel:
    block: dict[str, str]
    created: float
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""


@dataclass
class QueueEntry:
    queue: str
    uniqueid: str
    joined: float


@dataclass
class QueueStats:
    strategy: str = "ringall"
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0


@dataclass
class PbxState:
    agents: tuple[Agent, ...] = DEFAULT_AGENTS
    queue: str = DEFAULT_QUEUE
    channels: dict[str, Channel] = field(default_factory=dict)  # by Uniqueid, in creation order
    entries: dict[str, QueueEntry] = field(default_factory=dict)  # by Uniqueid, in join order
    queues: dict[str, QueueStats] = field(default_factory=dict)
    members: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # Told the name of every channel that hangs up (the simulator's ChanSpy follows them).
    hangup_listeners: list[Callable[[str], None]] = field(default_factory=list)
    # The clock of the stream: a replay runs on the recording's time, so that a Duration or a
    # queue Wait reads as it did on the real PBX.
    _last_time: float = 0.0
    _last_mono: float = 0.0

    def __post_init__(self) -> None:
        self.reset(time.time())

    def reset(self, now: float) -> None:
        """A PBX (re)start: no channels, no callers waiting, fresh queue statistics."""
        self.channels.clear()
        self.entries.clear()
        self.queues = {self.queue: QueueStats()}
        self.members = {
            (self.queue, agent.interface): _idle_member(self.queue, agent, int(now))
            for agent in self.agents
        }
        self.tick(now)

    def now(self) -> float:
        return self._last_time + (time.monotonic() - self._last_mono)

    def tick(self, at: float) -> None:
        """The stream clock reads ``at`` now (every piece sent moves it, not only the events
        that change the table)."""
        self._last_time = at
        self._last_mono = time.monotonic()

    def observe(self, name: bytes, fields: Fields, at: float) -> None:
        """Take in one sent event. ``at`` is its time on the stream's clock."""
        self.tick(at)
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, fields, at)
        elif name in _UPDATES:
            self._update(fields)

    # --- channels -------------------------------------------------------------------

    def _newchannel(self, fields: Fields, at: float) -> None:
        uniqueid = get(fields, "Uniqueid")
        if uniqueid:
            self.channels[uniqueid] = Channel(_block(fields), at)

    def _update(self, fields: Fields) -> Channel | None:
        channel = self.channels.get(get(fields, "Uniqueid"))
        if channel is not None:
            channel.block = _block(fields)
        return channel

    def _newexten(self, fields: Fields, _at: float) -> None:
        channel = self._update(fields)
        if channel is not None:
            channel.application = get(fields, "Application")
            channel.application_data = get(fields, "AppData")

    def _bridge_enter(self, fields: Fields, _at: float) -> None:
        channel = self._update(fields)
        if channel is not None:
            channel.bridge_id = get(fields, "BridgeUniqueid")

    def _bridge_leave(self, fields: Fields, _at: float) -> None:
        channel = self._update(fields)
        if channel is not None:
            channel.bridge_id = ""

    def _hangup(self, fields: Fields, _at: float) -> None:
        uniqueid = get(fields, "Uniqueid")
        channel = self.channels.pop(uniqueid, None)
        self.entries.pop(uniqueid, None)
        if channel is not None:
            for listener in self.hangup_listeners:
                listener(channel.block["Channel"])

    def _rename(self, fields: Fields, _at: float) -> None:
        channel = self.channels.get(get(fields, "Uniqueid"))
        if channel is not None:
            channel.block["Channel"] = get(fields, "Newname")

    # --- queues ---------------------------------------------------------------------

    def _caller_join(self, fields: Fields, at: float) -> None:
        self._update(fields)
        uniqueid = get(fields, "Uniqueid")
        queue = get(fields, "Queue")
        self.queues.setdefault(queue, QueueStats())
        self.entries[uniqueid] = QueueEntry(queue, uniqueid, at)

    def _caller_leave(self, fields: Fields, _at: float) -> None:
        self._update(fields)
        self.entries.pop(get(fields, "Uniqueid"), None)

    def _caller_abandon(self, fields: Fields, _at: float) -> None:
        self.queues.setdefault(get(fields, "Queue"), QueueStats()).abandoned += 1

    def _agent_connect(self, fields: Fields, _at: float) -> None:
        # Asterisk's recalc_holdtime: a running average weighted 3:1 towards the past.
        stats = self.queues.setdefault(get(fields, "Queue"), QueueStats())
        stats.holdtime = (stats.holdtime * 3 + _int(get(fields, "HoldTime"))) >> 2
        # Asterisk marks the member in call without a QueueMemberStatus event (seen in
        # 11_actions_busy_responses: InCall 1 while the last status event said 0).
        member = self.members.get((get(fields, "Queue"), get(fields, "Interface")))
        if member is not None:
            member["InCall"] = "1"

    def _agent_complete(self, fields: Fields, at: float) -> None:
        stats = self.queues.setdefault(get(fields, "Queue"), QueueStats())
        stats.completed += 1
        stats.talktime = (stats.talktime * 3 + _int(get(fields, "TalkTime"))) >> 2
        # What Asterisk's update_queue does; the next QueueMemberStatus confirms it.
        member = self.members.get((get(fields, "Queue"), get(fields, "Interface")))
        if member is not None:
            member["InCall"] = "0"
            member["CallsTaken"] = str(_int(member["CallsTaken"]) + 1)
            member["LastCall"] = str(int(at))

    def _member_status(self, fields: Fields, _at: float) -> None:
        queue, interface = get(fields, "Queue"), get(fields, "Interface")
        self.queues.setdefault(queue, QueueStats())
        self.members[(queue, interface)] = {key: get(fields, key) for key in MEMBER_KEYS}

    def _member_removed(self, fields: Fields, _at: float) -> None:
        self.members.pop((get(fields, "Queue"), get(fields, "Interface")), None)

    # --- answers --------------------------------------------------------------------

    def core_show_channels(self, action_id: str) -> bytes:
        """The full answer to ``CoreShowChannels``, shaped like Asterisk 22's."""
        now = self.now()
        idtext = [("ActionID", action_id)] if action_id else []
        out = [list_ack(action_id, "Channels will follow")]
        for channel in self.channels.values():
            out.append(
                format_message(
                    [
                        ("Event", "CoreShowChannel"),
                        *idtext,
                        *channel.block.items(),
                        ("Application", channel.application),
                        ("ApplicationData", channel.application_data),
                        ("Duration", _hms(now - channel.created)),
                        ("BridgeId", channel.bridge_id),
                    ]
                )
            )
        out.append(_list_complete("CoreShowChannelsComplete", idtext, len(self.channels)))
        return b"".join(out)

    def queue_status(self, action_id: str, queue: str = "", member: str = "") -> bytes:
        """The full answer to ``QueueStatus`` (optionally one queue / one member)."""
        now = self.now()
        idtext = [("ActionID", action_id)] if action_id else []
        out = [list_ack(action_id, "Queue status will follow")]
        items = 0
        for name, stats in self.queues.items():
            if queue and name != queue:
                continue
            entries = [e for e in self.entries.values() if e.queue == name]
            out.append(_queue_params(name, stats, len(entries), idtext))
            items += 1
            for (member_queue, interface), info in self.members.items():
                if member_queue != name or (
                    member and member not in (interface, info["MemberName"])
                ):
                    continue
                out.append(_queue_member(info, idtext))
                items += 1
            for position, entry in enumerate(entries, 1):
                channel = self.channels.get(entry.uniqueid)
                if channel is None:
                    continue
                out.append(_queue_entry(entry, channel, position, int(now - entry.joined), idtext))
                items += 1
        out.append(_list_complete("QueueStatusComplete", idtext, items))
        return b"".join(out)

    def find_members(self, interface: str, queue: str = "") -> list[dict[str, str]]:
        return [
            info
            for (member_queue, member_interface), info in self.members.items()
            if member_interface.lower() == interface.lower()
            and (not queue or queue.lower() == member_queue.lower())
        ]

    @property
    def active_channels(self) -> int:
        return len(self.channels)


_HANDLERS = {
    b"Newchannel": PbxState._newchannel,
    b"Newexten": PbxState._newexten,
    b"BridgeEnter": PbxState._bridge_enter,
    b"BridgeLeave": PbxState._bridge_leave,
    b"Hangup": PbxState._hangup,
    b"Rename": PbxState._rename,
    b"QueueCallerJoin": PbxState._caller_join,
    b"QueueCallerLeave": PbxState._caller_leave,
    b"QueueCallerAbandon": PbxState._caller_abandon,
    b"AgentConnect": PbxState._agent_connect,
    b"AgentComplete": PbxState._agent_complete,
    b"QueueMemberStatus": PbxState._member_status,
    b"QueueMemberPause": PbxState._member_status,
    b"QueueMemberAdded": PbxState._member_status,
    b"QueueMemberRemoved": PbxState._member_removed,
}
# Events that only refresh a channel's block (state, caller id, dialplan position).
_UPDATES = frozenset({b"Newstate", b"NewCallerid", b"NewConnectedLine", b"NewAccountCode"})
# The events that can change what CoreShowChannels/QueueStatus answer. The others (VarSet,
# CEL, RTCP*, Cdr, ...) are about half of all traffic and are passed over without a parse.
RELEVANT_EVENTS = frozenset(_HANDLERS) | _UPDATES


def _block(fields: Fields) -> dict[str, str]:
    return {key: get(fields, key) for key in CHANNEL_KEYS}


def _idle_member(queue: str, agent: Agent, login_time: int) -> dict[str, str]:
    return {
        "Queue": queue,
        "MemberName": agent.name,
        "Interface": agent.interface,
        "StateInterface": agent.interface,
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": str(login_time),
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }


def _queue_params(name: str, stats: QueueStats, calls: int, idtext: Fields) -> bytes:
    return format_message(
        [
            ("Event", "QueueParams"),
            ("Queue", name),
            ("Max", "0"),
            ("Strategy", stats.strategy),
            ("Calls", str(calls)),
            ("Holdtime", str(stats.holdtime)),
            ("TalkTime", str(stats.talktime)),
            ("Completed", str(stats.completed)),
            ("Abandoned", str(stats.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", "0.0"),
            ("ServicelevelPerf2", "0.0"),
            ("Weight", "0"),
            *idtext,
        ]
    )


def _queue_member(info: dict[str, str], idtext: Fields) -> bytes:
    return format_message(
        [
            ("Event", "QueueMember"),
            ("Queue", info["Queue"]),
            ("Name", info["MemberName"]),
            ("Location", info["Interface"]),
            ("StateInterface", info["StateInterface"]),
            ("Membership", info["Membership"]),
            ("Penalty", info["Penalty"]),
            ("CallsTaken", info["CallsTaken"]),
            ("LastCall", info["LastCall"]),
            ("LastPause", info["LastPause"]),
            ("LoginTime", info["LoginTime"]),
            ("InCall", info["InCall"]),
            ("Status", info["Status"]),
            ("Paused", info["Paused"]),
            ("PausedReason", info["PausedReason"]),
            ("Wrapuptime", info["Wrapuptime"]),
            *idtext,
        ]
    )


def _queue_entry(
    entry: QueueEntry, channel: Channel, position: int, wait: int, idtext: Fields
) -> bytes:
    block = channel.block
    # Asterisk's QueueStatus writes an unset caller id as "unknown", without the angle
    # brackets every event uses (seen in 11_actions_busy_responses).
    return format_message(
        [
            ("Event", "QueueEntry"),
            ("Queue", entry.queue),
            ("Position", str(position)),
            ("Channel", block["Channel"]),
            ("Uniqueid", entry.uniqueid),
            ("CallerIDNum", _plain_unknown(block["CallerIDNum"])),
            ("CallerIDName", _plain_unknown(block["CallerIDName"])),
            ("ConnectedLineNum", _plain_unknown(block["ConnectedLineNum"])),
            ("ConnectedLineName", _plain_unknown(block["ConnectedLineName"])),
            ("Wait", str(max(wait, 0))),
            ("Priority", "0"),
            *idtext,
        ]
    )


def _list_complete(event: str, idtext: Fields, items: int) -> bytes:
    return format_message(
        [("Event", event), *idtext, ("EventList", "Complete"), ("ListItems", str(items))]
    )


def _plain_unknown(value: str) -> str:
    return "unknown" if value in ("", "<unknown>") else value


def _hms(seconds: float) -> str:
    whole = max(int(seconds), 0)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
