"""What the tracker tells the rest of Tamas: immutable call snapshots and live call events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from telephony.members import AgentSignal, MemberSnapshot, MemberState

Direction = Literal["inbound", "outbound", "internal"]
# inbound: answered | missed | abandoned; outbound and internal: answered | no_answer | busy |
# failed. "live" while the call is up. An inbound call nobody served is missed whatever kept
# it from an agent; the reason is ``MissedReason`` (README "Call outcomes").
Outcome = Literal["live", "answered", "missed", "abandoned", "busy", "no_answer", "failed"]
# Why an inbound call was missed ("" for every other call): an agent's phone rang and was
# refused (declined), an agent's line refused it without ringing (busy), or nobody picked up.
MissedReason = Literal["", "no_answer", "declined", "busy"]
MISSED_REASONS: tuple[MissedReason, ...] = ("no_answer", "declined", "busy")
# originating: Tamas's own Originate (click-to-call) is ringing the agent's phone.
# The channel variable Tamas's Originate sets to tag a click-to-call (its ActionID too).
ORIGINATION_VARIABLE = "TAMAS_ORIGINATION"
# Set by Tamas's Originate of a supervisor's phone into the spy context: that channel is a
# supervisor listening in (app.supervision), not a call of its own.
SPY_VARIABLE = "TAMAS_SPY_CHANNEL"
# The number Tamas's Originate has the agent's phone dial once answered: the call is known
# to be outbound to it from the start, whatever order the OriginateResponse and Hangup come in.
NUMBER_VARIABLE = "TAMAS_NUMBER"

# "released": the agents of an inbound call have all hung up while the caller stays on
# alone (a post-call survey, an IVR after the agent); the agent is free, the call goes on
# until the caller hangs up ("ended").
CallEventKind = Literal[
    "started",
    "originating",
    "ringing",
    "dialling",
    "answered",
    "transferred",
    "released",
    "ended",
]


@dataclass(frozen=True, slots=True)
class Leg:
    uniqueid: str
    channel: str
    device: str
    internal: bool
    created_at: float
    answered_at: float | None
    ended_at: float | None
    hangup_cause: str
    hangup_cause_text: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class Ring:
    """An agent's phone that rang for this call, and how it ended."""

    device: str
    extension: str
    member_name: str
    at: float
    answered_at: float | None
    ended_at: float | None
    # ringing | answered | no_answer | rejected | cancelled
    result: str


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: Literal["blind", "attended"]
    from_device: str
    to: str
    at: float


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    pbx: str
    linkedid: str
    direction: Direction
    caller_number: str
    caller_name: str
    called_number: str
    # The external party (the customer): the caller of an inbound call, the callee of an
    # outbound one; empty for internal calls.
    customer_number: str
    customer_e164: str | None
    did: str
    queue: str
    rings: tuple[Ring, ...]
    answered_by: str  # device, e.g. PJSIP/1001
    transfers: tuple[Transfer, ...]
    hold_seconds: float
    started_at: float
    queue_joined_at: float | None
    answered_at: float | None
    ended_at: float | None
    wait_seconds: float
    talk_seconds: float
    outcome: Outcome
    hangup_cause: str
    hangup_cause_text: str
    dial_status: str
    hung_up_by: str  # customer | agent | pbx | "" while live
    recordings: tuple[str, ...]
    legs: tuple[Leg, ...]
    # Why the end was not seen, when it was not (resync after a reconnect or a PBX restart).
    end_reason: str = ""
    agent_devices: tuple[str, ...] = field(default=())
    # A click-to-call Tamas placed: the TAMAS_ORIGINATION channel variable it set, and the
    # Reason of the PBX's OriginateResponse once it came (4 answered, 3 no answer, 5 busy...).
    origination: str = ""
    originate_reason: str = ""
    missed_reason: MissedReason = ""
    # A supervisor's phone in ChanSpy (SPY_VARIABLE): followed, but not logged as a call.
    supervision: bool = False
    # When the agents let the caller go before the call ended ("released"), else None.
    released_at: float | None = None

    @property
    def live(self) -> bool:
        return self.ended_at is None

    @property
    def changed_at(self) -> float:
        """When the newest thing known about the call happened: the time of the event that
        made this snapshot (its PBX ``Timestamp``, else when Tamas received it)."""
        times = [self.started_at, self.queue_joined_at, self.answered_at, self.ended_at]
        times += [t for r in self.rings for t in (r.at, r.answered_at, r.ended_at)]
        times += [t.at for t in self.transfers]
        return max(t for t in times if t is not None)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A live event for screen-pops and wallboards, numbered per PBX."""

    kind: CallEventKind
    pbx: str
    seq: int
    call: CallSnapshot
    device: str = ""  # the agent's device this event is about (ringing, answered)
    from_device: str = ""  # transferred
    to: str = ""  # transferred


@dataclass(frozen=True, slots=True)
class OriginateOutcome:
    """The PBX's answer to an asynchronous Originate (the ``OriginateResponse`` event): how
    the first leg (the agent's phone) went. ``action_id`` is the Originate's ActionID."""

    pbx: str
    action_id: str
    success: bool
    # An AST_CONTROL code: 0 failed, 1 hung up, 3 no answer, 4 answered, 5 busy, 8 congestion.
    reason: str
    channel: str
    uniqueid: str
    at: float


@dataclass(frozen=True, slots=True)
class RecordingNote:
    """What the PBX said about a channel's recording outside the call's snapshots.

    ``source``: ``cdr``, a file named by the ``Cdr`` event's ``recordingfile``/``UserField``
    (after the call ended); ``stop``, the channel's MixMonitor was stopped and its file
    (``path``) is whole (an empty path: the file is not known, every pending recording of the
    call is looked for at once); ``start``, MixMonitor started (again) on the channel, so
    that file grows again."""

    pbx: str
    uniqueid: str
    path: str
    source: str
    at: float


@dataclass(frozen=True)
class LiveCalls:
    """After a resync: every call the tracker follows on one PBX now (the PBX's channels
    included). A call stored as still up that is not among them ended while nobody listened
    (Tamas was down, or another instance that followed this PBX died)."""

    pbx: str
    linkedids: frozenset[str]
    at: float


@dataclass
class Extras:
    """What a batch of the PBX's events says besides calls: answers to Tamas's Originates and
    changes of agents' queue membership (a whole snapshot of it after a resync)."""

    originates: list[OriginateOutcome] = field(default_factory=list)
    members: list[MemberState] = field(default_factory=list)
    member_snapshot: MemberSnapshot | None = None
    recordings: list[RecordingNote] = field(default_factory=list)
    live_calls: LiveCalls | None = None
    # app_queue's Agent* events (ringing for a queue call, answered, not answered, done).
    signals: list[AgentSignal] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.originates
            or self.signals
            or self.members
            or self.member_snapshot
            or self.recordings
            or self.live_calls
        )
