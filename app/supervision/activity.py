"""Agents' state intervals from the PBX's queue-member events (pure: no I/O, no clock).

Every ``QueueMemberStatus/Pause/Added/Removed`` (and the members of a ``QueueStatus`` after a
reconnect) says one membership's state. Each membership has its own track of intervals
(``queue`` set), and each agent interface one more (``queue`` empty) for its state across
its queues, which is what the agent reports add up: an agent in two queues is on one call,
not two.

A state lasts from the event that started it to the event that changed it. After a resync
the PBX's word replaces ours: a membership still in the same state goes on (one interval,
nothing counted twice), one that changed or is gone is closed at the resync and the new
state opened there. What happened while nobody listened is not known; the time until the
resync is counted in the state last seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.agents.service import WRAPUP_REASON
from telephony.members import AgentSignal, MemberSnapshot, MemberState

STATES = ("idle", "ringing", "talking", "pause", "wrapup", "unavailable")
# The state of the sign-in to Tamas track (``pbx`` empty): a panel of theirs was open.
SIGNED_IN = "signed_in"
# Asterisk device states (the Status of QueueMemberStatus).
_OFFLINE = {4, 5}  # invalid, unavailable
_ON_CALL = {2, 3, 8}  # in use, busy, on hold
_RINGING = {6, 7}  # ringing, ringing while in use

# The reason of a ringing interval that ended with AgentRingNoAnswer: a missed ring.
NO_ANSWER = "no_answer"

State = tuple[str, str]  # (state, reason)
Key = tuple[str, str, str]  # (pbx, interface, queue); queue "" for the agent overall


@dataclass
class Interval:
    pbx: str
    interface: str
    queue: str
    state: str
    reason: str
    started_at: float
    ended_at: float | None = None
    id: int | None = None  # stored already
    user_id: int | None = None

    @property
    def key(self) -> Key:
        return (self.pbx, self.interface, self.queue)


def member_state(m: MemberState, current: str = "") -> State | None:
    """One membership's state as an event reports it (``current``: its state until now);
    None: not a member (any more). A phone ringing for a queue call (``AgentCalled``) that
    the PBX reports busy (Asterisk 22 with chan_pjsip does, recording 04) is still ringing
    until ``AgentConnect`` says it answered."""
    if m.removed:
        return None
    if m.status in _OFFLINE:
        return ("unavailable", "")
    if m.status in _RINGING:
        return ("ringing", "")
    if m.status in _ON_CALL and not m.in_call and current == "ringing":
        return ("ringing", "")
    if m.in_call or m.status in _ON_CALL:
        return ("talking", "")
    if m.paused:
        if m.paused_reason == WRAPUP_REASON:
            return ("wrapup", "")
        return ("pause", m.paused_reason)
    return ("idle", "")


def combined(states: Sequence[State]) -> State | None:
    """The agent's state across their memberships (as the panel shows it: paused only when
    paused in every queue they can be reached in)."""
    if not states:
        return None
    reachable = [s for s in states if s[0] != "unavailable"]
    if not reachable:
        return ("unavailable", "")
    names = {s[0] for s in reachable}
    if "ringing" in names:
        return ("ringing", "")
    if "talking" in names:
        return ("talking", "")
    if names <= {"pause", "wrapup"}:
        paused = [s for s in reachable if s[0] == "pause"]
        return paused[0] if paused else ("wrapup", "")
    return ("idle", "")


class Intervals:
    """The open intervals of some interfaces, moved on by events. ``closed`` are the stored
    ones that ended; ``added`` the new ones (some of which may have ended already)."""

    def __init__(self, open_rows: Iterable[Interval]) -> None:
        self.open: dict[tuple[str, str], dict[str, Interval]] = {}
        for row in open_rows:
            self.open.setdefault((row.pbx, row.interface), {})[row.queue] = row
        self.closed: list[Interval] = []
        self.added: list[Interval] = []

    def _apply(self, key: Key, new: State | None, at: float, ending: str = "") -> None:
        """``key`` is in state ``new`` from ``at`` on; ``ending``: the reason the interval it
        ends is given (a ring not answered)."""
        pbx, interface, queue = key
        tracks = self.open.setdefault((pbx, interface), {})
        current = tracks.get(queue)
        if current is not None and (current.state, current.reason) == new:
            return
        if current is not None:
            if ending:
                current.reason = ending
            current.ended_at = max(at, current.started_at)
            if current.id is not None:
                self.closed.append(current)
            del tracks[queue]
        if new is not None:
            started = max(at, current.ended_at or at) if current is not None else at
            interval = Interval(pbx, interface, queue, new[0], new[1], started)
            tracks[queue] = interval
            self.added.append(interval)

    def _agent(self, pbx: str, interface: str, at: float) -> None:
        tracks = self.open.get((pbx, interface), {})
        states = [(t.state, t.reason) for q, t in sorted(tracks.items()) if q]
        self._apply((pbx, interface, ""), combined(states), at)

    def _current(self, key: Key) -> str:
        found = self.open.get((key[0], key[1]), {}).get(key[2])
        return found.state if found is not None else ""

    def member(self, m: MemberState) -> None:
        key = (m.pbx, m.interface, m.queue)
        self._apply(key, member_state(m, self._current(key)), m.at)
        self._agent(m.pbx, m.interface, m.at)

    def signal(self, s: AgentSignal) -> None:
        key = (s.pbx, s.interface, s.queue)
        current = self._current(key)
        if s.kind == "called":
            self._apply(key, ("ringing", ""), s.at)
        elif s.kind == "connect":
            self._apply(key, ("talking", ""), s.at)
        elif s.kind == "no_answer" and current == "ringing":
            # app_queue rings only members that are not paused: idle now (an autopause
            # follows as its own QueueMemberPause).
            self._apply(key, ("idle", ""), s.at, ending=NO_ANSWER)
        elif s.kind == "complete" and current == "talking":
            self._apply(key, ("idle", ""), s.at)
        else:
            return
        self._agent(s.pbx, s.interface, s.at)

    def feed(self, items: Iterable[MemberState | AgentSignal]) -> None:
        """Events in the order they came."""
        for item in items:
            if isinstance(item, AgentSignal):
                self.signal(item)
            else:
                self.member(item)

    def snapshot(self, snapshot: MemberSnapshot) -> None:
        """The PBX's whole word after a (re)connect."""
        at = snapshot.at
        listed = {(m.interface, m.queue) for m in snapshot.members}
        interfaces = {i for p, i in self.open if p == snapshot.pbx}
        for (pbx, interface), tracks in list(self.open.items()):
            if pbx != snapshot.pbx:
                continue
            for queue in list(tracks):
                if queue and (interface, queue) not in listed:
                    self._apply((pbx, interface, queue), None, at)
        for m in snapshot.members:
            key = (m.pbx, m.interface, m.queue)
            self._apply(key, member_state(m, self._current(key)), at)
            interfaces.add(m.interface)
        for interface in sorted(interfaces):
            self._agent(snapshot.pbx, interface, at)

    def to_insert(self) -> list[Interval]:
        """The new intervals worth keeping (not those that ended the moment they began)."""
        return [i for i in self.added if i.ended_at is None or i.ended_at > i.started_at]
