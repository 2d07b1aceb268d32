"""The call tracker: AMI events in, calls and live call events out. Pure: no socket, no
database, no clock of its own (every event carries its time).

A call is what the customer experiences, keyed by Asterisk's ``Linkedid`` (per PBX); its legs
are the channels that share it. Local channels (``Local/...;1`` and ``;2``) only connect
things inside the PBX: they are followed (their linkedid ties the real devices together) but
are never legs of their own. A channel whose linkedid changes (the target of an attended
transfer joins the customer's call) moves to the new call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.phones import try_parse_phone
from telephony.events import AmiEvent, device_of, extension_of, is_local
from telephony.model import (
    NUMBER_VARIABLE,
    ORIGINATION_VARIABLE,
    SPY_VARIABLE,
    CallEvent,
    CallEventKind,
    CallSnapshot,
    Direction,
    Leg,
    MissedReason,
    Outcome,
    Ring,
    Transfer,
)

logger = logging.getLogger(__name__)

STATE_RINGING = "5"
STATE_UP = "6"
_EXTENSION = re.compile(r"^\d{1,6}$")
# Hangup causes (Q.850) that mean the called phone declined.
_REJECT_CAUSES = {"17", "21"}
_NO_ANSWER_CAUSES = {"18", "19"}
# An OriginateResponse that names no channel (a failure: ``Uniqueid: <unknown>``) belongs to
# the originated channel of its device that hangs up at the same moment: Asterisk sends the
# failure and hangs the unanswered channel up together (before or after it). Seconds.
RESPONSE_WINDOW = 2.0
# Tags of ended click-to-calls remembered, so that a late answer to one is never taken for
# another call's.
_ENDED_TAGS = 4096


def default_is_internal(device: str) -> bool:
    """An extension-like device (``PJSIP/1001``) is internal; a named one (``PJSIP/trunk``,
    ``SIP/provider``) is external. Only for a PBX whose devices Tamas does not know: it
    passes ``telephony.devices.KnownDevices.is_internal`` when it does."""
    return bool(_EXTENSION.match(extension_of(device)))


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel as the PBX reports it on resync (``CoreShowChannel``)."""

    channel: str
    uniqueid: str
    linkedid: str
    state: str
    caller_number: str
    caller_name: str
    connected_number: str
    exten: str
    duration_seconds: float


@dataclass(frozen=True, slots=True)
class QueueEntryStatus:
    """A caller waiting in a queue, as the PBX reports it on resync (``QueueEntry``)."""

    queue: str
    uniqueid: str
    wait_seconds: float


@dataclass
class _Channel:
    uniqueid: str
    name: str
    device: str
    internal: bool
    local: bool
    linkedid: str
    created_at: float
    state: str = "0"
    caller_number: str = ""
    caller_name: str = ""
    # The caller id the channel was created with (an agent's phone: its own), before an
    # Originate's CallerID or the dialplan changed it.
    own_number: str = ""
    own_name: str = ""
    connected_number: str = ""
    exten: str = ""
    answered_at: float | None = None
    ringing_at: float | None = None
    # The phone itself said it rings (state 5, a SIP 180): ringing_at is also set when a
    # dial or a queue only began calling it.
    rang: bool = False
    ended_at: float | None = None
    hangup_requested_at: float | None = None
    cause: str = ""
    cause_text: str = ""
    dial_status: str = ""
    member_name: str = ""
    hold_since: float | None = None
    announced: bool = False  # an "answered" event went out for this leg


@dataclass
class _Call:
    linkedid: str
    started_at: float
    channels: dict[str, _Channel] = field(default_factory=dict)  # every leg ever, by uniqueid
    live: set[str] = field(default_factory=set)
    origin: str = ""  # uniqueid of the first real (non-Local) channel
    did: str = ""
    queue: str = ""
    queue_joined_at: float | None = None
    abandoned: bool = False
    answered_by: str = ""
    answered_at: float | None = None
    external_answered_at: float | None = None
    dial_status: str = ""
    dialled_number: str = ""
    originate_failed: bool = False
    origination: str = ""  # Tamas's click-to-call reference (TAMAS_ORIGINATION)
    originate_reason: str = ""
    # Its first leg was dialled by an Originate (a DialBegin with no calling channel), and
    # whether the OriginateResponse for it came.
    originated: bool = False
    responded: bool = False
    supervision: bool = False  # a supervisor listening in (TAMAS_SPY_CHANNEL)
    transfers: list[Transfer] = field(default_factory=list)
    hold_seconds: float = 0.0
    recordings: list[str] = field(default_factory=list)
    ended_at: float | None = None
    end_reason: str = ""
    dialling_announced: bool = False
    released_at: float | None = None  # the caller left alone by the agents (see _released)


class CallTracker:
    """Follows the calls of one PBX."""

    def __init__(
        self,
        pbx: str,
        *,
        is_internal: Callable[[str], bool] = default_is_internal,
        region: str = "IR",
    ) -> None:
        self.pbx = pbx
        self.is_internal = is_internal
        self.region = region
        self.seq = 0
        self.calls: dict[str, _Call] = {}
        self.channel_call: dict[str, str] = {}  # uniqueid -> linkedid of its call
        self.unknown_events = 0
        self._pending: list[CallEvent] = []  # calls ended by a channel moving away
        # OriginateResponse correlation (see _originateresponse): click-to-call tags of the
        # calls up (tag -> linkedid) and of recent ended ones; per device, the failures that
        # named no channel and wait for theirs to hang up, and the originated channels that
        # hung up unanswered with no answer yet.
        self._tags: dict[str, str] = {}
        self._ended_tags: dict[str, None] = {}
        self._unclaimed: dict[str, list[AmiEvent]] = {}
        self._unanswered: dict[str, list[tuple[float, str]]] = {}
        # Calls whose agents all hung up while the caller's channel stays: linkedid -> (the
        # last agent's device, when), until the caller goes on in the dialplan (released)
        # or is hung up.
        self._releasing: dict[str, tuple[str, float]] = {}
        self._handlers: dict[str, Callable[[AmiEvent], list[CallEvent]]] = {
            "Newchannel": self._newchannel,
            "Newstate": self._newstate,
            "NewCallerid": self._newcallerid,
            "NewConnectedLine": self._newconnectedline,
            "DialBegin": self._dialbegin,
            "DialEnd": self._dialend,
            "BridgeEnter": self._touch,
            "BridgeLeave": self._touch,
            "HangupRequest": self._hanguprequest,
            "SoftHangupRequest": self._softhanguprequest,
            "Newexten": self._newexten,
            "Hangup": self._hangup,
            "QueueCallerJoin": self._queuecallerjoin,
            "QueueCallerLeave": self._touch,
            "QueueCallerAbandon": self._queuecallerabandon,
            "AgentCalled": self._agentcalled,
            "AgentRingNoAnswer": self._touch,
            "AgentConnect": self._agentconnect,
            "AgentComplete": self._touch,
            "BlindTransfer": self._blindtransfer,
            "AttendedTransfer": self._attendedtransfer,
            "Hold": self._hold,
            "Unhold": self._unhold,
            "MusicOnHoldStart": self._touch,
            "MusicOnHoldStop": self._touch,
            "VarSet": self._varset,
            "MixMonitorStart": self._touch,
            "MixMonitorStop": self._touch,
            "Cdr": self._touch,
            "OriginateResponse": self._originateresponse,
        }

    # -- entry points ----------------------------------------------------------------------

    def handle(self, event: AmiEvent) -> list[CallEvent]:
        """Apply one event; return the live call events it caused, in order."""
        handler = self._handlers.get(event.name)
        if handler is None:
            return []
        out = handler(event)
        if self._pending:
            out, self._pending = self._pending + out, []
        return out

    def handles(self, name: str) -> bool:
        return name in self._handlers

    def resync(self, channels: Iterable[ChannelStatus], at: float) -> list[CallEvent]:
        """Align with what the PBX reports is up now (after a (re)connect): channels we
        missed are added, channels that went away unseen are ended, and calls left with no
        channel are closed with a reason saying their end was not observed."""
        out: list[CallEvent] = []
        reported = {c.uniqueid: c for c in channels}
        for status in reported.values():
            if status.uniqueid not in self.channel_call:
                out += self._adopt(status, at)
        for linkedid in list(self.calls):
            call = self.calls[linkedid]
            for uid in list(call.live):
                if uid not in reported:
                    channel = call.channels[uid]
                    channel.ended_at = at
                    call.live.discard(uid)
                    self.channel_call.pop(uid, None)
            if not call.live:
                call.end_reason = "end not observed: the call was gone when Tamas reconnected"
                out += self._finish(call, at)
        return out

    def resync_queues(self, entries: Iterable[QueueEntryStatus], at: float) -> None:
        """Callers waiting in queues now (``QueueEntry`` of a ``QueueStatus``): a call picked
        up on resync learns its queue and when it joined."""
        for entry in entries:
            found = self._channel(entry.uniqueid)
            if found is None:
                continue
            call = found[0]
            call.queue = call.queue or entry.queue
            if call.queue_joined_at is None:
                call.queue_joined_at = at - entry.wait_seconds

    def end_all(self, at: float, reason: str) -> list[CallEvent]:
        """Close every call (the PBX restarted: whatever was up is gone)."""
        out: list[CallEvent] = []
        for call in list(self.calls.values()):
            for uid in list(call.live):
                call.channels[uid].ended_at = at
                self.channel_call.pop(uid, None)
            call.live.clear()
            call.end_reason = reason
            out += self._finish(call, at)
        self._unclaimed.clear()
        self._unanswered.clear()
        return out

    def snapshot(self, linkedid: str) -> CallSnapshot | None:
        call = self.calls.get(linkedid)
        return None if call is None else self._snapshot(call)

    # -- bookkeeping -----------------------------------------------------------------------

    def _emit(self, kind: CallEventKind, call: _Call, **extra: str) -> list[CallEvent]:
        self.seq += 1
        return [
            CallEvent(kind=kind, pbx=self.pbx, seq=self.seq, call=self._snapshot(call), **extra)
        ]

    def _channel(self, uniqueid: str) -> tuple[_Call, _Channel] | None:
        linkedid = self.channel_call.get(uniqueid)
        if linkedid is None:
            return None
        call = self.calls[linkedid]
        return call, call.channels[uniqueid]

    def _call_of(self, event: AmiEvent) -> tuple[_Call, _Channel] | tuple[None, None]:
        """The call and channel an event is about, following a changed linkedid."""
        found = self._channel(event.uniqueid) if event.uniqueid else None
        if found is None:
            return None, None
        call, channel = found
        linkedid = event.linkedid
        if linkedid and linkedid != call.linkedid:
            call = self._move(channel, call, linkedid, event.at)
        return call, channel

    def _move(self, channel: _Channel, old: _Call, linkedid: str, at: float) -> _Call:
        # The channel joins another call (the target of an attended transfer joins the
        # customer's call). The old call ends if nothing is left in it.
        new = self.calls.get(linkedid)
        if new is None:
            new = _Call(linkedid=linkedid, started_at=at)
            self.calls[linkedid] = new
        old.live.discard(channel.uniqueid)
        # A leg belongs to one call: the one it ends in.
        del old.channels[channel.uniqueid]
        channel.linkedid = linkedid
        new.channels[channel.uniqueid] = channel
        new.live.add(channel.uniqueid)
        self.channel_call[channel.uniqueid] = linkedid
        if not old.live:
            # Handed out by handle() before the event's own call events.
            self._pending += self._finish(old, at)
        return new

    def _new_channel(
        self, uniqueid: str, name: str, linkedid: str, at: float
    ) -> tuple[_Call, _Channel, bool]:
        device = device_of(name)
        local = is_local(name)
        channel = _Channel(
            uniqueid=uniqueid,
            name=name,
            device=device,
            internal=local or self.is_internal(device),
            local=local,
            linkedid=linkedid,
            created_at=at,
        )
        call = self.calls.get(linkedid)
        new_call = call is None
        if call is None:
            call = _Call(linkedid=linkedid, started_at=at)
            self.calls[linkedid] = call
        call.channels[uniqueid] = channel
        call.live.add(uniqueid)
        self.channel_call[uniqueid] = linkedid
        if not call.origin and not local:
            call.origin = uniqueid
        return call, channel, new_call

    def _adopt(self, status: ChannelStatus, at: float) -> list[CallEvent]:
        started = at - status.duration_seconds
        call, channel, new_call = self._new_channel(
            status.uniqueid, status.channel, status.linkedid or status.uniqueid, started
        )
        call.started_at = min(call.started_at, started)
        channel.state = status.state
        channel.caller_number = channel.own_number = status.caller_number
        channel.caller_name = channel.own_name = status.caller_name
        channel.connected_number = status.connected_number
        channel.exten = status.exten
        channel.rang = status.state == STATE_RINGING
        if call.origin == channel.uniqueid and not channel.internal:
            call.did = status.exten if status.exten != "s" else ""
        if status.state == STATE_UP:
            channel.answered_at = started
        out = self._emit("started", call) if new_call else []
        if status.state == STATE_UP and call.origin != channel.uniqueid:
            out += self._answered(call, channel, started)
        return out

    # -- handlers --------------------------------------------------------------------------

    def _touch(self, event: AmiEvent) -> list[CallEvent]:
        # Events that only matter for their linkedid (a moved channel) or not at all yet.
        if event.uniqueid:
            self._call_of(event)
        return []

    def _newchannel(self, event: AmiEvent) -> list[CallEvent]:
        uid = event.uniqueid
        if not uid or uid in self.channel_call:
            return []  # a replay, or nonsense: never a second leg
        call, channel, new_call = self._new_channel(
            uid, event.channel, event.linkedid or uid, event.at
        )
        channel.state = event.get("ChannelState", "0")
        channel.caller_number = channel.own_number = event.get("CallerIDNum")
        channel.caller_name = channel.own_name = event.get("CallerIDName")
        channel.exten = event.get("Exten")
        if call.origin == uid and not channel.internal and channel.exten != "s":
            call.did = channel.exten
        out = self._emit("started", call) if new_call else []
        if not new_call and not channel.internal and not channel.local:
            out += self._dialling(call, numbered=True)
        if channel.state == STATE_RINGING:
            channel.rang = True
            out += self._ringing(call, channel, event.at)
        return out

    def _newstate(self, event: AmiEvent) -> list[CallEvent]:
        call, channel = self._call_of(event)
        if call is None or channel is None:
            return []
        channel.state = event.get("ChannelState", channel.state)
        self._caller(channel, event)
        if channel.state == STATE_RINGING:
            channel.rang = True
            return self._ringing(call, channel, event.at)
        if channel.state == STATE_UP:
            return self._answered(call, channel, event.at)
        return []

    def _caller(self, channel: _Channel, event: AmiEvent) -> None:
        if "CallerIDNum" in event.msg:
            channel.caller_number = event.get("CallerIDNum") or channel.caller_number
        if "CallerIDName" in event.msg:
            channel.caller_name = event.get("CallerIDName") or channel.caller_name
        if "ConnectedLineNum" in event.msg:
            channel.connected_number = event.get("ConnectedLineNum") or channel.connected_number
        if event.get("Exten"):
            channel.exten = event.get("Exten")

    def _newcallerid(self, event: AmiEvent) -> list[CallEvent]:
        _call, channel = self._call_of(event)
        if channel is not None:
            self._caller(channel, event)
        return []

    def _newconnectedline(self, event: AmiEvent) -> list[CallEvent]:
        return self._newcallerid(event)

    def _ringing(self, call: _Call, channel: _Channel, at: float) -> list[CallEvent]:
        if channel.ringing_at is not None or channel.local:
            return []
        if call.origin == channel.uniqueid:
            if channel.internal:
                # An Originate rings the agent's own phone first (click-to-call): one of the
                # call's rings, announced as "originating", not as a call for her.
                channel.ringing_at = at
            return []
        channel.ringing_at = at
        if not channel.internal:
            return self._dialling(call)  # the customer's phone rings
        return self._emit("ringing", call, device=channel.device)

    def _answered(self, call: _Call, channel: _Channel, at: float) -> list[CallEvent]:
        if channel.local:
            return []
        if channel.answered_at is None:
            channel.answered_at = at
        if call.origin == channel.uniqueid:
            return []
        if not channel.internal:
            if call.external_answered_at is not None:
                return []
            call.external_answered_at = at
            origin = call.channels.get(call.origin)
            if origin is not None and origin.internal:
                # The customer picked up an agent's outbound call.
                return self._dialling(call) + self._emit("answered", call, device=origin.device)
            return []
        if channel.announced:
            return []
        if call.answered_by:
            # Only a transfer's target is announced after the first answer.
            targets = {t.to for t in call.transfers}
            if not targets & {channel.device, extension_of(channel.device)}:
                return []
        else:
            call.answered_by = channel.device
            call.answered_at = at
        channel.announced = True
        return self._emit("answered", call, device=channel.device)

    def _dialbegin(self, event: AmiEvent) -> list[CallEvent]:
        dest = self._channel(event.get("DestUniqueid"))
        if dest is None:
            return []
        call, channel = dest
        if not event.uniqueid and channel.uniqueid == call.origin:
            # No calling channel: an Originate is ringing the device (the agent's phone).
            call.originated = True
        source = self._channel(event.uniqueid) if event.uniqueid else None
        out: list[CallEvent] = []
        if source is not None and not channel.internal and not channel.local:
            src_call, src_channel = source
            if not src_call.dialled_number:
                # Outbound: the number the agent's channel was sent to dial.
                exten = event.get("Exten") or src_channel.exten
                if exten and exten != "s":
                    src_call.dialled_number = exten
            out += self._dialling(src_call)
        return out + self._ringing(call, channel, event.at)

    def _dialling(self, call: _Call, *, numbered: bool = False) -> list[CallEvent]:
        """An agent's call going out reaches the outside world: her panel shows who is being
        dialled, once, before the customer's phone rings (at the DialBegin; else at the
        customer leg's ringing or answer, or its creation once its number is known).
        ``numbered``: only if the number being dialled is known by now."""
        origin = call.channels.get(call.origin)
        if origin is None or not origin.internal or call.dialling_announced:
            return []
        if numbered:
            if not call.dialled_number and origin.exten and origin.exten != "s":
                call.dialled_number = origin.exten
            customers = [c for c in call.channels.values() if not c.internal and not c.local]
            if not (call.dialled_number or any(c.caller_number for c in customers)):
                return []
        call.dialling_announced = True
        return self._emit("dialling", call, device=origin.device)

    def _dialend(self, event: AmiEvent) -> list[CallEvent]:
        dest = self._channel(event.get("DestUniqueid"))
        if dest is None:
            return []
        call, channel = dest
        status = event.get("DialStatus")
        channel.dial_status = status
        # The call's dial status is the last one seen, except that once a dial was
        # answered the others being cancelled does not undo that. The dial that brought in
        # the originating channel itself (an Originate ringing the agent) is not the call's.
        if status and call.dial_status != "ANSWER" and channel.uniqueid != call.origin:
            call.dial_status = status
        if status == "ANSWER":
            return self._answered(call, channel, event.at)
        return []

    def _hanguprequest(self, event: AmiEvent) -> list[CallEvent]:
        call, channel = self._call_of(event)
        if channel is not None and channel.hangup_requested_at is None:
            channel.hangup_requested_at = event.at
        if call is not None and channel is not None and channel.uniqueid == call.origin:
            self._releasing.pop(call.linkedid, None)
        return []

    def _hangup(self, event: AmiEvent) -> list[CallEvent]:
        call, channel = self._call_of(event)
        if call is None or channel is None:
            return []
        channel.ended_at = event.at
        channel.cause = event.get("Cause")
        channel.cause_text = event.get("Cause-txt")
        if channel.hold_since is not None:
            call.hold_seconds += event.at - channel.hold_since
            channel.hold_since = None
        if (
            call.originated
            and not call.responded
            and channel.uniqueid == call.origin
            and channel.answered_at is None
        ):
            self._unanswered_hangup(call, channel, event.at)
        call.live.discard(channel.uniqueid)
        self.channel_call.pop(channel.uniqueid, None)
        if call.live:
            self._maybe_released(call, channel, event.at)
            return []
        return self._finish(call, event.at)

    def _maybe_released(self, call: _Call, channel: _Channel, at: float) -> None:
        """An agent's leg ended and the call goes on. If the caller is now alone (every
        agent who answered gone, no one else answered still there), the agents may have
        let the caller go on (a post-call survey): that is known when the caller's channel
        goes on in the dialplan (Newexten) before any hangup of it is asked for; usually
        the PBX hangs the caller up at once instead, and the call simply ends."""
        if call.released_at is not None or not channel.internal or channel.answered_at is None:
            return
        origin = call.channels.get(call.origin)
        if origin is None or origin.internal or origin.uniqueid not in call.live:
            return  # not an inbound call whose caller is still there
        for other in call.channels.values():
            if other is origin or other.local or other.uniqueid not in call.live:
                continue
            if other.answered_at is not None or other.internal:
                return  # still talking to someone, or an agent's phone still ringing
        self._releasing[call.linkedid] = (channel.device, at)

    def _newexten(self, event: AmiEvent) -> list[CallEvent]:
        if not self._releasing:
            return []  # the common case: nothing to decide (Newexten is frequent)
        call, channel = self._call_of(event)
        if call is None or channel is None or channel.uniqueid != call.origin:
            return []
        pending = self._releasing.pop(call.linkedid, None)
        if pending is None:
            return []
        device, at = pending
        call.released_at = at
        return self._emit("released", call, device=device)

    def _softhanguprequest(self, event: AmiEvent) -> list[CallEvent]:
        if self._releasing:
            call, channel = self._call_of(event)
            if call is not None and channel is not None and channel.uniqueid == call.origin:
                self._releasing.pop(call.linkedid, None)  # the caller is being hung up
        return []

    def _finish(self, call: _Call, at: float) -> list[CallEvent]:
        if call.linkedid not in self.calls:
            return []
        call.ended_at = at
        out = self._emit("ended", call)
        del self.calls[call.linkedid]
        self._releasing.pop(call.linkedid, None)
        if call.origination and self._tags.pop(call.origination, None) is not None:
            self._ended_tags[call.origination] = None
            if len(self._ended_tags) > _ENDED_TAGS:
                del self._ended_tags[next(iter(self._ended_tags))]
        for uid in call.channels:
            if self.channel_call.get(uid) == call.linkedid:
                del self.channel_call[uid]
        return out

    def _queuecallerjoin(self, event: AmiEvent) -> list[CallEvent]:
        call, _ = self._call_of(event)
        if call is not None:
            call.queue = event.get("Queue")
            if call.queue_joined_at is None:
                call.queue_joined_at = event.at
        return []

    def _queuecallerabandon(self, event: AmiEvent) -> list[CallEvent]:
        call, _ = self._call_of(event)
        if call is not None:
            call.abandoned = True
            call.queue = call.queue or event.get("Queue")
        return []

    def _agentcalled(self, event: AmiEvent) -> list[CallEvent]:
        dest = self._channel(event.get("DestUniqueid"))
        if dest is None:
            return []
        call, channel = dest
        channel.member_name = event.get("MemberName")
        call.queue = call.queue or event.get("Queue")
        return self._ringing(call, channel, event.at)

    def _agentconnect(self, event: AmiEvent) -> list[CallEvent]:
        dest = self._channel(event.get("DestUniqueid"))
        if dest is None:
            return []
        call, channel = dest
        return self._answered(call, channel, event.at)

    def _transfer(
        self, linkedid: str, kind: str, from_channel: str, to: str, at: float
    ) -> list[CallEvent]:
        call = self.calls.get(linkedid)
        if call is None:
            return []
        transfer = Transfer(
            kind="blind" if kind == "blind" else "attended",
            from_device=device_of(from_channel),
            to=to,
            at=at,
        )
        call.transfers.append(transfer)
        return self._emit("transferred", call, from_device=transfer.from_device, to=transfer.to)

    def _blindtransfer(self, event: AmiEvent) -> list[CallEvent]:
        if event.get("Result") != "Success":
            return []
        linkedid = event.get("TransfereeLinkedid") or event.get("TransfererLinkedid")
        return self._transfer(
            linkedid, "blind", event.get("TransfererChannel"), event.get("Extension"), event.at
        )

    def _attendedtransfer(self, event: AmiEvent) -> list[CallEvent]:
        if event.get("Result") != "Success":
            return []
        linkedid = event.get("TransfereeLinkedid") or event.get("OrigTransfererLinkedid")
        target = event.get("TransferTargetChannel")
        to = device_of(target) if target else event.get("DestApp")
        return self._transfer(
            linkedid, "attended", event.get("OrigTransfererChannel"), to, event.at
        )

    def _hold(self, event: AmiEvent) -> list[CallEvent]:
        _call, channel = self._call_of(event)
        if channel is not None and channel.hold_since is None:
            channel.hold_since = event.at
        return []

    def _unhold(self, event: AmiEvent) -> list[CallEvent]:
        call, channel = self._call_of(event)
        if call is not None and channel is not None and channel.hold_since is not None:
            call.hold_seconds += event.at - channel.hold_since
            channel.hold_since = None
        return []

    def _varset(self, event: AmiEvent) -> list[CallEvent]:
        variable = event.get("Variable")
        if variable == "MIXMONITOR_FILENAME":
            call, _ = self._call_of(event)
            value = event.get("Value")
            if call is not None and value and value not in call.recordings:
                call.recordings.append(value)
        elif variable.lstrip("_") == SPY_VARIABLE:
            # Tamas's Originate of a supervisor's phone into ChanSpy: not a call of its own.
            call, _ = self._call_of(event)
            if call is not None:
                call.supervision = True
        elif variable.lstrip("_") == ORIGINATION_VARIABLE:
            # Set by Tamas's Originate on the agent's channel before it rings (inherited by
            # later legs with the underscores): the call is that click-to-call.
            call, channel = self._call_of(event)
            value = event.get("Value")
            if call is not None and channel is not None and value and not call.origination:
                call.origination = value
                self._tags[value] = call.linkedid
                return self._emit("originating", call, device=channel.device)
        elif variable.lstrip("_") == NUMBER_VARIABLE:
            # The number Tamas's Originate has the agent's phone dial once answered.
            call, _ = self._call_of(event)
            value = event.get("Value")
            if call is not None and value and not call.dialled_number:
                call.dialled_number = value
        return []

    def _originateresponse(self, event: AmiEvent) -> list[CallEvent]:
        call = self._responding_call(event)
        if call is not None:
            self._take_response(call, event)
        return []

    def _responding_call(self, event: AmiEvent) -> _Call | None:
        """The call an OriginateResponse answers for, or None (not known yet, or none).

        By the click-to-call tag Tamas's Originate set to its ActionID, else by the channel
        the response names (its Uniqueid). A failure names no channel (``Uniqueid:
        <unknown>``, ``Channel:`` the dial string) although one may have rung: it is the
        device's originated channel that hangs up unanswered at the same moment, and never
        a call of the device merely because it is the newest: one already hung up is taken
        now, else the response waits (``_unanswered_hangup``) and is dropped if none does.
        """
        action_id = event.get("ActionID")
        if action_id:
            linkedid = self._tags.get(action_id)
            if linkedid is not None:
                return self.calls.get(linkedid)
            if action_id in self._ended_tags:
                return None  # the answer to a click-to-call that has ended already
        uniqueid = event.uniqueid
        if uniqueid and uniqueid != "<null>":  # <null>: how older versions said none
            found = self._channel(uniqueid)
            return found[0] if found is not None else None
        device = device_of(event.channel)
        if not device:
            return None
        hung_up = [
            h for h in self._unanswered.pop(device, ()) if event.at - h[0] <= RESPONSE_WINDOW
        ]
        if hung_up:
            _at, linkedid = hung_up.pop(0)
            if hung_up:
                self._unanswered[device] = hung_up
            # Hung up before its answer came: that call's (None: already reported ended).
            return self.calls.get(linkedid)
        waiting = self._unclaimed.setdefault(device, [])
        waiting[:] = [r for r in waiting if event.at - r.at <= RESPONSE_WINDOW]
        waiting.append(event)
        return None

    def _unanswered_hangup(self, call: _Call, channel: _Channel, at: float) -> None:
        """An originated channel hangs up unanswered with no OriginateResponse yet: the
        failure waiting for its device is its answer; or its answer is still to come."""
        device = channel.device
        waiting = [r for r in self._unclaimed.pop(device, ()) if at - r.at <= RESPONSE_WINDOW]
        if waiting:
            self._take_response(call, waiting.pop(0))
            if waiting:
                self._unclaimed[device] = waiting
            return
        hung_up = [h for h in self._unanswered.get(device, ()) if at - h[0] <= RESPONSE_WINDOW]
        hung_up.append((at, call.linkedid))
        self._unanswered[device] = hung_up

    def _take_response(self, call: _Call, event: AmiEvent) -> None:
        call.responded = True
        exten = event.get("Exten")
        if exten and exten != "s" and not call.dialled_number:
            call.dialled_number = exten
        if event.get("Response") == "Failure":
            call.originate_failed = True
        call.originate_reason = event.get("Reason")

    # -- the snapshot ----------------------------------------------------------------------

    def _snapshot(self, call: _Call) -> CallSnapshot:
        origin = call.channels.get(call.origin)
        real = [c for c in call.channels.values() if not c.local]
        externals = [c for c in real if not c.internal]
        direction: Direction
        if origin is not None and not origin.internal:
            direction = "inbound"
            customer: _Channel | None = origin
        elif externals:
            direction = "outbound"
            customer = externals[0]
        elif call.dialled_number and not _EXTENSION.match(call.dialled_number):
            direction = "outbound"
            customer = None
        else:
            direction = "internal"
            customer = None

        caller_number = origin.caller_number if origin else ""
        caller_name = origin.caller_name if origin else ""
        if origin is not None and origin.internal:
            # An agent's call: she is the caller, whatever caller id the Originate (the
            # customer's, for her phone's display) or the dialplan (the company's outbound
            # number) gave her channel since.
            own = origin.own_number if origin.own_number not in ("", "<unknown>") else ""
            caller_number = own or extension_of(origin.device)
            caller_name = origin.own_name if origin.own_name != "<unknown>" else ""
        if direction == "inbound":
            called = call.did
            customer_number = caller_number
        elif direction == "outbound":
            called = call.dialled_number or (customer.caller_number if customer else "")
            customer_number = called
        else:
            others = [c for c in real if c is not origin]
            called = call.dialled_number or (
                extension_of(others[0].device) if others else (origin.exten if origin else "")
            )
            customer_number = ""
        parsed = try_parse_phone(customer_number, self.region) if customer_number else None

        agents = [c for c in real if c.internal and (direction != "inbound" or c is not origin)]
        rings = tuple(
            Ring(
                device=c.device,
                extension=extension_of(c.device),
                member_name=c.member_name,
                at=c.ringing_at if c.ringing_at is not None else c.created_at,
                answered_at=c.answered_at,
                ended_at=c.ended_at,
                result=_ring_result(c),
            )
            for c in sorted(agents, key=lambda c: c.created_at)
            # The originating agent's own phone is one when an Originate rang it.
            if (c is not origin and c.answered_at is not None) or c.ringing_at is not None
        )

        answered_at: float | None
        answered_by: str
        if direction == "inbound":
            answered_at, answered_by = call.answered_at, call.answered_by
        else:
            answered_at = (
                call.external_answered_at if direction == "outbound" else (call.answered_at)
            )
            answered_by = origin.device if origin is not None and answered_at else ""
            if direction == "internal" and answered_at:
                answered_by = call.answered_by

        ended = call.ended_at
        outcome = _outcome(call, direction, answered_at, origin)
        end = ended if ended is not None else None
        wait = (
            ((answered_at or end or call.started_at) - call.started_at)
            if end or answered_at
            else 0.0
        )
        talk_end = end
        if direction == "inbound" and end is not None and answered_at is not None:
            talk_end = _talk_end(real, origin, agents, end)
        talk = (
            (talk_end - answered_at) if (talk_end is not None and answered_at is not None) else 0.0
        )
        hangup_source = customer if customer is not None else origin
        return CallSnapshot(
            pbx=self.pbx,
            linkedid=call.linkedid,
            direction=direction,
            caller_number=caller_number,
            caller_name=caller_name,
            called_number=called,
            customer_number=customer_number,
            customer_e164=parsed.e164 if parsed else None,
            did=call.did if direction == "inbound" else "",
            queue=call.queue,
            rings=rings,
            answered_by=answered_by,
            transfers=tuple(call.transfers),
            hold_seconds=round(call.hold_seconds, 3),
            started_at=call.started_at,
            queue_joined_at=call.queue_joined_at,
            answered_at=answered_at,
            ended_at=ended,
            wait_seconds=round(max(0.0, wait), 3),
            talk_seconds=round(max(0.0, talk), 3),
            outcome=outcome,
            hangup_cause=hangup_source.cause if hangup_source else "",
            hangup_cause_text=hangup_source.cause_text if hangup_source else "",
            dial_status=call.dial_status,
            hung_up_by=_hung_up_by(call, customer, agents) if ended is not None else "",
            recordings=tuple(call.recordings),
            legs=tuple(
                Leg(
                    uniqueid=c.uniqueid,
                    channel=c.name,
                    device=c.device,
                    internal=c.internal,
                    created_at=c.created_at,
                    answered_at=c.answered_at,
                    ended_at=c.ended_at,
                    hangup_cause=c.cause,
                    hangup_cause_text=c.cause_text,
                    dial_status=c.dial_status,
                )
                for c in sorted(real, key=lambda c: c.created_at)
            ),
            end_reason=call.end_reason,
            agent_devices=tuple(dict.fromkeys(c.device for c in agents)),
            origination=call.origination,
            originate_reason=call.originate_reason,
            missed_reason=_missed_reason(call, origin) if outcome == "missed" else "",
            supervision=call.supervision,
            released_at=call.released_at,
        )


def _ring_result(channel: _Channel) -> str:
    if channel.answered_at is not None:
        return "answered"
    if channel.ended_at is None:
        return "ringing"
    if channel.dial_status == "BUSY" or channel.cause in _REJECT_CAUSES:
        return "rejected"
    if channel.dial_status == "NOANSWER" or channel.cause in _NO_ANSWER_CAUSES:
        return "no_answer"
    return "cancelled"


def _outcome(
    call: _Call, direction: Direction, answered_at: float | None, origin: _Channel | None
) -> Outcome:
    if call.ended_at is None:
        return "live"
    if direction == "inbound":
        if answered_at is not None:
            return "answered"
        if call.abandoned:
            return "abandoned"
        return "missed"
    if answered_at is not None:
        return "answered"
    if call.originate_failed or (origin is not None and origin.answered_at is None):
        return "failed"
    status = call.dial_status
    if status == "BUSY":
        return "busy"
    if status in ("NOANSWER", "CANCEL"):
        return "no_answer"
    return "failed"


def _missed_reason(call: _Call, origin: _Channel | None) -> MissedReason:
    """Why nobody served an inbound call. A phone that rang and was then refused (Q.850 17
    user busy / 486, 21 call rejected / 603, or a BUSY dial) was declined by the agent; one
    refused without ringing was busy (a line in use, call waiting off); 21 is a refusal
    either way. Else nobody picked up: no_answer. One agent declining outweighs the rest."""
    declined = busy = False
    for c in call.channels.values():
        if c is origin or c.local or c.answered_at is not None or c.ended_at is None:
            continue
        refused = c.dial_status == "BUSY" or c.cause in _REJECT_CAUSES
        if not refused:
            continue
        if c.rang or c.cause == "21":
            declined = True
        else:
            busy = True
    if declined:
        return "declined"
    if busy or call.dial_status == "BUSY":
        return "busy"
    return "no_answer"


def _talk_end(
    real: list[_Channel], customer: _Channel | None, agents: list[_Channel], end: float
) -> float:
    """When an inbound call's conversation ended: its end, or when the last agent who
    answered left, if the caller then stayed on alone (a post-call survey, an IVR after the
    agent: that time is not talk). A caller transferred on to someone outside (a trunk leg
    answered and still there when the agents left) is still talking."""
    legs = [c for c in agents if c.answered_at is not None]
    if not legs or any(c.ended_at is None for c in legs):
        return end
    left = max(c.ended_at for c in legs if c.ended_at is not None)
    for c in real:
        if c is customer or c in legs or c.answered_at is None:
            continue
        if c.ended_at is None or c.ended_at > left:
            return end
    return min(end, left)


def _hung_up_by(call: _Call, customer: _Channel | None, agents: list[_Channel]) -> str:
    answered = [a for a in agents if a.answered_at is not None]
    if customer is not None and customer.hangup_requested_at is not None:
        # Whoever asked first: a caller who hangs up after a post-call survey did so after
        # the agent had.
        first_agent = min(
            (a.hangup_requested_at for a in answered if a.hangup_requested_at is not None),
            default=None,
        )
        if first_agent is not None and first_agent < customer.hangup_requested_at:
            return "agent"
        return "customer"
    if any(a.hangup_requested_at is not None for a in answered):
        return "agent"
    if customer is None and answered:
        return "agent"
    if any(a.hangup_requested_at is not None for a in agents):
        return "agent"
    return "pbx"
