"""Queue members as Asterisk 22's app_queue keeps them: add, remove, pause, device state, and
the events every client sees (pure: the member table in, the events to send out).

Nothing here changes ``PbxState.members`` directly. The events go out through the
broadcaster, whose ``observe`` records them, so the table changes only through the event
stream, as it does for a replayed recording.

Event fields and their order are those of the recorded ``QueueMemberStatus`` events (the
same member blob app_queue sends in QueueMemberAdded/Removed/Pause); the error texts are
app_queue's ``manager_add_queue_member``/``manager_remove_queue_member``.
"""

from __future__ import annotations

from collections.abc import Mapping

from telephony.simulator.protocol import format_message, get, parse_fields
from telephony.simulator.state import MEMBER_KEYS, PbxState

# ast_device_state, by the number QueueMemberStatus/QueueMember show in Status.
DEVICE_STATES = (
    "UNKNOWN",
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
)
_NOT_INUSE, _INVALID = "1", "4"


class MemberError(Exception):
    """app_queue refused the change; the message is its AMI error text."""


def member_event(name: str, info: Mapping[str, str]) -> bytes:
    """One member event (without its terminator), e.g. QueueMemberPause."""
    pairs = [("Event", name), ("Privilege", "agent,all")]
    pairs += [(key, info.get(key, "")) for key in MEMBER_KEYS]
    return format_message(pairs)[:-4]


def pause(
    state: PbxState, interface: str, paused: bool, reason: str, queue: str, now: float
) -> list[bytes]:
    """QueueMemberPause for every queue ``interface`` is a member of (or ``queue`` only);
    none when it is a member of none."""
    events = []
    for member in state.find_members(interface, queue):
        changed = dict(member, Paused="1" if paused else "0", PausedReason=reason if paused else "")
        if paused:
            changed["LastPause"] = str(int(now))
        events.append(member_event("QueueMemberPause", changed))
    return events


def add(
    state: PbxState,
    queue: str,
    interface: str,
    *,
    penalty: int = 0,
    paused: bool = False,
    member_name: str = "",
    state_interface: str = "",
    reason: str = "",
    now: float,
) -> bytes:
    """The QueueMemberAdded of a new dynamic member (app_queue's add_to_queue)."""
    name = queue_named(state, queue)
    if name is None:
        raise MemberError("Unable to add interface to queue: No such queue")
    if state.find_members(interface, name):
        raise MemberError("Unable to add interface: Already there")
    state_interface = state_interface or interface
    info = {
        "Queue": name,
        "MemberName": member_name or interface,
        "Interface": interface,
        "StateInterface": state_interface,
        "Membership": "dynamic",
        "Penalty": str(max(penalty, 0)),
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": str(int(now)) if paused else "0",
        "LoginTime": str(int(now)),
        "InCall": "0",
        "Status": device_status(state, state_interface),
        "Paused": "1" if paused else "0",
        "PausedReason": reason if paused else "",
        "Ringinuse": "0",  # the queue's ringinuse (no, on the recording PBX)
        "Wrapuptime": "0",
    }
    return member_event("QueueMemberAdded", info)


def remove(state: PbxState, queue: str, interface: str) -> bytes:
    """The QueueMemberRemoved of a dynamic member (app_queue's remove_from_queue: members
    from queues.conf cannot be removed)."""
    name = queue_named(state, queue)
    if name is None:
        raise MemberError("Unable to remove interface from queue: No such queue")
    found = state.find_members(interface, name)
    if not found:
        raise MemberError("Unable to remove interface: Not there")
    if found[0]["Membership"] != "dynamic":
        raise MemberError("Member not dynamic")
    return member_event("QueueMemberRemoved", found[0])


def device_state(state: PbxState, device: str, name: str) -> list[bytes]:
    """A device's state changed (``name`` as Asterisk spells it, e.g. UNAVAILABLE): the
    DeviceStateChange, then a QueueMemberStatus for each membership it backs."""
    status = str(DEVICE_STATES.index(name))
    events = [
        format_message(
            [
                ("Event", "DeviceStateChange"),
                ("Privilege", "call,all"),
                ("Device", device),
                ("State", name),
            ]
        )[:-4]
    ]
    for member in _backed_by(state, device):
        events.append(member_event("QueueMemberStatus", dict(member, Status=status)))
    return events


def current_status(state: PbxState, raw: bytes) -> list[bytes]:
    """A QueueMemberStatus of a generated call, as the PBX would send it now: its device
    state, but the member's own settings and counters (paused, penalty, calls taken...), one
    per queue the interface is a member of, none if it is in no queue any more."""
    fields = parse_fields(raw)
    status = get(fields, "Status")
    return [
        member_event("QueueMemberStatus", dict(member, Status=status))
        for member in state.find_members(get(fields, "Interface"))
    ]


def device_status(state: PbxState, device: str) -> str:
    """The Status a new member backed by ``device`` starts with."""
    for member in _backed_by(state, device):
        return member["Status"]
    known = {agent.interface.lower() for agent in state.agents}
    # chan_pjsip reports an endpoint it does not have as invalid.
    return _NOT_INUSE if device.lower() in known else _INVALID


def queue_named(state: PbxState, queue: str) -> str | None:
    """The queue's own name (app_queue matches names without regard to case)."""
    return next((name for name in state.queues if name.lower() == queue.lower()), None)


def _backed_by(state: PbxState, device: str) -> list[dict[str, str]]:
    return [m for m in state.members.values() if m["StateInterface"].lower() == device.lower()]
