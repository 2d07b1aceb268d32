"""Agents' queue membership as the PBX reports it (pure, no I/O).

``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded`` and ``QueueMemberRemoved``
events, and the ``QueueMember`` entries of a ``QueueStatus`` after every (re)connect, become
:class:`MemberState` changes: whether each interface is in each queue, paused (with the
reason), on a call, and its device state. A pause made from the phone (a feature code) or by
another tool arrives the same way as Tamas's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from telephony.events import AmiEvent
from telephony.framing import Message

_EVENTS = frozenset(
    {"QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved"}
)
# app_queue's events about one member and one queue call: its phone rings for the call, it
# answers, the ring times out (or is declined), the call is over.
_AGENT_EVENTS = {
    "AgentCalled": "called",
    "AgentConnect": "connect",
    "AgentRingNoAnswer": "no_answer",
    "AgentComplete": "complete",
}


@dataclass(frozen=True, slots=True)
class MemberState:
    pbx: str
    queue: str
    interface: str
    state_interface: str
    member_name: str
    membership: str  # static | dynamic | realtime
    paused: bool
    paused_reason: str
    status: int  # Asterisk device state: 1 not in use, 2 in use, 5 unavailable, 6 ringing...
    in_call: bool
    removed: bool
    at: float


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    """Every member of every queue of one PBX, as a ``QueueStatus`` reported them."""

    pbx: str
    members: tuple[MemberState, ...]
    at: float


@dataclass(frozen=True, slots=True)
class AgentSignal:
    """An ``Agent*`` event: what happened to one member for one queue call. Some PBXes
    report a ringing phone's device state as busy; these say ringing from talking."""

    pbx: str
    queue: str
    interface: str
    kind: str  # called | connect | no_answer | complete
    at: float


def handles(name: str) -> bool:
    return name in _EVENTS


def signal_from_event(event: AmiEvent) -> AgentSignal | None:
    kind = _AGENT_EVENTS.get(event.name)
    queue, interface = event.get("Queue"), event.get("Interface")
    if kind is None or not queue or not interface:
        return None
    return AgentSignal(event.pbx, queue, interface, kind, event.at)


def member_from_event(event: AmiEvent) -> MemberState | None:
    """The member state a ``QueueMember*`` event reports."""
    if event.name not in _EVENTS:
        return None
    return _member(
        event.pbx,
        event.get,
        name_key="MemberName",
        interface_key="Interface",
        removed=event.name == "QueueMemberRemoved",
        at=event.at,
    )


def snapshot_from_status(pbx: str, frames: Iterable[Message], at: float) -> MemberSnapshot:
    """The members listed by a ``QueueStatus`` (its ``QueueMember`` entries)."""
    members = []
    for frame in frames:
        if frame.event != "QueueMember":
            continue
        member = _member(
            pbx, frame.get, name_key="Name", interface_key="Location", removed=False, at=at
        )
        if member is not None:
            members.append(member)
    return MemberSnapshot(pbx, tuple(members), at)


def _member(
    pbx: str,
    get: Callable[[str], str],
    *,
    name_key: str,
    interface_key: str,
    removed: bool,
    at: float,
) -> MemberState | None:
    queue, interface = get("Queue"), get(interface_key)
    if not queue or not interface:
        return None
    return MemberState(
        pbx=pbx,
        queue=queue,
        interface=interface,
        state_interface=get("StateInterface") or interface,
        member_name=get(name_key),
        membership=get("Membership"),
        paused=get("Paused") == "1",
        paused_reason=get("PausedReason"),
        status=_int(get("Status")),
        in_call=get("InCall") == "1",
        removed=removed,
        at=at,
    )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
