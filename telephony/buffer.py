"""What the AMI listener holds until the database has stored it.

Every batch the consumer tracks goes through here: held, handed to the handler, let go once
committed. With the database up that takes one trip and changes nothing (the handler sees
the batch's events in their order). With the database unreachable the consumer keeps
reading and tracking, and the calls' events pile up here, coalesced per call:

* the calls table is an upsert of each call's whole snapshot, keyed by (pbx, linkedid), so
  a call's newest event carries everything its earlier ones did;
* once a held call has ended, its ``started``/``ringing``/``dialling``/``originating``
  events are dropped: the pops they would cause are stale (nobody should be rung for a call
  that is over), while ``answered`` (its tracking code), ``transferred`` and ``ended``
  stay;
* a phone ringing (or dialling) again for the same call replaces its earlier such event;
* queue members keep only their newest state; a member snapshot (after a resync) replaces
  everything held about members before it;
* the calls live after a resync (to close those stored as up that ended unobserved): only
  the newest is kept.

So the bound (``most``) counts calls and other held items, not events: a call holds a
handful of events whatever its length. Events are handed over in their tracker order
(``seq``), calls in the order they were first held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from telephony.members import AgentSignal, MemberState
from telephony.model import CallEvent, Extras, OriginateOutcome, RecordingNote

# Pops only: dropped once the call they are about has ended while held.
_STALE_AFTER_END = frozenset({"started", "ringing", "dialling", "originating"})
_REPEATS = frozenset({"ringing", "dialling"})

CallKey = tuple[str, str]
MemberKey = tuple[str, str, str]


@dataclass(frozen=True)
class Unit:
    """One piece of held work: a call's events, or one extra (an Originate's answer, a
    recording note, a member's state, a member snapshot)."""

    call: CallKey | None = None
    events: tuple[CallEvent, ...] = ()
    extra: OriginateOutcome | RecordingNote | MemberState | AgentSignal | Extras | None = None

    def describe(self) -> str:
        """What this unit is about, for a log line (ids and kinds, no caller data)."""
        if self.call is not None:
            kinds = ",".join(e.kind for e in self.events)
            return f"call {self.call[1]} on PBX {self.call[0]} (events: {kinds})"
        extra = self.extra
        if isinstance(extra, OriginateOutcome):
            return f"the answer to Originate {extra.action_id}"
        if isinstance(extra, RecordingNote):
            return f"a recording note ({extra.source}) of channel {extra.uniqueid}"
        if isinstance(extra, MemberState):
            return f"queue member {extra.interface} of {extra.queue}"
        if isinstance(extra, AgentSignal):
            return f"queue member {extra.interface} of {extra.queue} ({extra.kind})"
        return "a resync snapshot (queue members, live calls)"


def merged(units: Sequence[Unit]) -> tuple[list[CallEvent], Extras]:
    """The handler's arguments for these units: their events in tracker order, their extras
    together."""
    events = sorted((e for u in units for e in u.events), key=lambda e: e.seq)
    extras = Extras()
    for u in units:
        extra = u.extra
        if isinstance(extra, OriginateOutcome):
            extras.originates.append(extra)
        elif isinstance(extra, RecordingNote):
            extras.recordings.append(extra)
        elif isinstance(extra, MemberState):
            extras.members.append(extra)
        elif isinstance(extra, AgentSignal):
            extras.signals.append(extra)
        elif isinstance(extra, Extras):
            extras.member_snapshot = extra.member_snapshot or extras.member_snapshot
            extras.live_calls = extra.live_calls or extras.live_calls
    return events, extras


class HeldEvents:
    def __init__(self, most: int) -> None:
        self.most = most
        self._calls: dict[CallKey, list[CallEvent]] = {}
        self._originates: list[OriginateOutcome] = []
        self._recordings: list[RecordingNote] = []
        self._signals: list[AgentSignal] = []
        # In the order they came; coalesced: only each member's newest.
        self._members: dict[int, MemberState] = {}
        self._member_at: dict[MemberKey, int] = {}
        self._serial = 0
        self._snapshot: Extras | None = None
        self.peak = 0

    def __len__(self) -> int:
        return (
            len(self._calls)
            + len(self._originates)
            + len(self._recordings)
            + len(self._signals)
            + len(self._members)
            + (self._snapshot is not None)
        )

    @property
    def calls(self) -> int:
        return len(self._calls)

    @property
    def events(self) -> int:
        return sum(len(v) for v in self._calls.values())

    @property
    def full(self) -> bool:
        return len(self) >= self.most

    def add(self, events: Iterable[CallEvent], extras: Extras | None, *, coalesce: bool) -> None:
        """Hold these. ``coalesce`` (the database is unreachable): drop what a later event
        makes pointless, as the module says; otherwise every event is kept as it came."""
        for event in events:
            key = (event.pbx, event.call.linkedid)
            held = self._calls.get(key)
            if held is None:
                self._calls[key] = [event]
                continue
            if coalesce:
                if event.kind == "ended":
                    held[:] = [h for h in held if h.kind not in _STALE_AFTER_END]
                elif event.kind in _REPEATS:
                    held[:] = [
                        h for h in held if not (h.kind == event.kind and h.device == event.device)
                    ]
            held.append(event)
        if extras:
            if extras.member_snapshot is not None or extras.live_calls is not None:
                # A new object, not the held one changed: a batch that took the held one
                # releases only what it stored.
                before = self._snapshot or Extras()
                if extras.member_snapshot is not None:
                    self._members.clear()
                    self._member_at.clear()
                self._snapshot = Extras(
                    member_snapshot=extras.member_snapshot or before.member_snapshot,
                    live_calls=extras.live_calls or before.live_calls,
                )
            self._originates += extras.originates
            self._recordings += extras.recordings
            self._signals += extras.signals
            for m in extras.members:
                # Without coalescing every state stays, in order, as the handler would have
                # had them in one batch (it tells availability changes from device states).
                member = (m.pbx, m.queue, m.interface)
                if coalesce and member in self._member_at:
                    self._members.pop(self._member_at[member], None)
                self._serial += 1
                self._members[self._serial] = m
                self._member_at[member] = self._serial
        self.peak = max(self.peak, len(self))

    def take(self, most_events: int) -> list[Unit]:
        """The oldest held work, about ``most_events`` events of calls at most (a call is
        never cut in two), with every held extra; still held until ``release``."""
        units: list[Unit] = []
        if self._snapshot is not None:
            units.append(Unit(extra=self._snapshot))
        units += [Unit(extra=o) for o in self._originates]
        units += [Unit(extra=r) for r in self._recordings]
        units += [Unit(extra=a) for a in self._signals]
        units += [Unit(extra=m) for m in self._members.values()]
        count = 0
        for key, events in self._calls.items():
            if count and count + len(events) > most_events:
                break
            units.append(Unit(call=key, events=tuple(events)))
            count += len(events)
        return units

    def release(self, units: Iterable[Unit]) -> None:
        """These were stored (or given up): no longer held."""
        gone = [u.extra for u in units if u.extra is not None]
        for unit in units:
            if unit.call is not None:
                self._calls.pop(unit.call, None)
        if not gone:
            return
        ids = {id(x) for x in gone}
        if self._snapshot is not None and id(self._snapshot) in ids:
            self._snapshot = None
        self._originates = [o for o in self._originates if id(o) not in ids]
        self._recordings = [r for r in self._recordings if id(r) not in ids]
        self._signals = [a for a in self._signals if id(a) not in ids]
        self._members = {k: m for k, m in self._members.items() if id(m) not in ids}
        self._member_at = {k: n for k, n in self._member_at.items() if n in self._members}
