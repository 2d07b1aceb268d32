"""The AMI actions the simulator answers, as Asterisk 22's ``manager.c`` and ``app_queue``
do.

Response shapes (key order, list acknowledgements, error texts) are those of the recorded
traces where they show them (``10_actions_idle``, ``11_actions_busy_responses``,
``06_click_to_call``) and of ``manager.c``/``app_queue.c`` otherwise: an action before Login
is refused with "Permission denied", an unknown one with "Invalid/unknown command: X. Use
Action: ListCommands to show available commands."
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence

from telephony.simulator import members
from telephony.simulator.broadcast import Broadcaster, Session
from telephony.simulator.members import MemberError
from telephony.simulator.originate import OriginateRequest, parse_variables
from telephony.simulator.protocol import (
    Fields,
    error,
    event_name,
    format_message,
    get,
    get_all,
    list_ack,
    response,
)
from telephony.simulator.state import CHANNEL_KEYS, Channel, PbxState

__all__ = ["Actions", "OriginateRequest"]

log = logging.getLogger(__name__)


class Actions:
    def __init__(
        self,
        broadcaster: Broadcaster,
        state: PbxState,
        *,
        username: str,
        secret: str,
        boot_time: Callable[[], float],
        originate: Callable[[OriginateRequest], None],
        hangup: Callable[[Channel, int], Sequence[bytes]] | None = None,
    ):
        self._broadcaster = broadcaster
        self._state = state
        self._username = username
        self._secret = secret
        self._boot_time = boot_time
        self._originate = originate
        self._hangup = hangup or _hangup_alone
        self._handlers: dict[str, Callable[[Session, Fields, str], None]] = {
            "login": self.login,
            "logoff": self.logoff,
            "challenge": self.challenge,
            "ping": self.ping,
            "events": self.events,
            "coreshowchannels": self.core_show_channels,
            "queuestatus": self.queue_status,
            "queuepause": self.queue_pause,
            "queueadd": self.queue_add,
            "queueremove": self.queue_remove,
            "originate": self.originate,
            "hangup": self.hangup,
        }

    def dispatch(self, session: Session, fields: Fields) -> None:
        action = get(fields, "Action").strip()
        action_id = get(fields, "ActionID")
        if not action:
            self._reply(session, error(action_id, "Missing action in request"))
            return
        name = action.lower()
        if not session.authenticated and name not in ("login", "logoff", "challenge"):
            self._reply(session, error(action_id, "Permission denied"))
            return
        handler = self._handlers.get(name)
        if handler is None:
            self._reply(
                session,
                error(
                    action_id,
                    f"Invalid/unknown command: {action}. "
                    "Use Action: ListCommands to show available commands.",
                ),
            )
            return
        handler(session, fields, action_id)

    def _reply(self, session: Session, data: bytes) -> None:
        self._broadcaster.respond(session, data)

    def login(self, session: Session, fields: Fields, action_id: str) -> None:
        if session.authenticated:
            self._reply(session, response("Success", action_id, message="Already authenticated"))
            return
        username, secret = get(fields, "Username"), get(fields, "Secret")
        if username.lower() != self._username.lower() or secret != self._secret:
            # Never log the secret, not even the wrong one.
            log.info("AMI login failed for %r from %s", username, session.peer)
            session.write(error(action_id, "Authentication failed"))
            session.close()
            return
        session.authenticated = True
        session.username = username
        self._broadcaster.add(session)
        on, system = event_mask(get(fields, "Events", "on"))
        session.write(response("Success", action_id, message="Authentication accepted"))
        if system:
            # Asterisk sends FullyBooted right after a login that reads system events (A1);
            # with Events: off there is none (10_actions_idle).
            uptime = str(int(time.time() - self._boot_time()))
            session.write(
                format_message(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    ]
                )
            )
        self._broadcaster.set_events(session, on)
        events = "on" if on else "off"
        log.info("AMI client %r logged in from %s (events %s)", username, session.peer, events)

    def logoff(self, session: Session, _fields: Fields, action_id: str) -> None:
        self._reply(session, response("Goodbye", action_id, message="Thanks for all the fish."))
        self._broadcaster.finish(session)

    def challenge(self, session: Session, _fields: Fields, action_id: str) -> None:
        # MD5 challenge logins are not simulated: a plain Login only.
        self._reply(session, error(action_id, "Must specify AuthType"))

    def ping(self, session: Session, _fields: Fields, action_id: str) -> None:
        seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
        self._reply(
            session,
            response(
                "Success", action_id, ("Ping", "Pong"), ("Timestamp", f"{seconds}.{micros:06d}")
            ),
        )

    def events(self, session: Session, fields: Fields, action_id: str) -> None:
        on, _system = event_mask(get(fields, "EventMask"))
        self._reply(session, response("Success", action_id, ("Events", "On" if on else "Off")))
        self._broadcaster.set_events(session, on)

    def core_show_channels(self, session: Session, _fields: Fields, action_id: str) -> None:
        self._reply(session, self._state.core_show_channels(action_id))

    def queue_status(self, session: Session, fields: Fields, action_id: str) -> None:
        answer = self._state.queue_status(action_id, get(fields, "Queue"), get(fields, "Member"))
        self._reply(session, answer)

    def queue_pause(self, session: Session, fields: Fields, action_id: str) -> None:
        interface, paused = get(fields, "Interface"), get(fields, "Paused")
        if not interface or not paused:
            self._reply(session, error(action_id, "Need 'Interface' and 'Paused' parameters."))
            return
        pause = truthy(paused)
        events = members.pause(
            self._state, interface, pause, get(fields, "Reason"), get(fields, "Queue"), self._now()
        )
        if not events:
            self._reply(session, error(action_id, "Interface not found"))
            return
        message = "Interface paused successfully" if pause else "Interface unpaused successfully"
        self._reply(session, response("Success", action_id, message=message))
        self.emit(events)

    def queue_add(self, session: Session, fields: Fields, action_id: str) -> None:
        queue, interface = get(fields, "Queue"), get(fields, "Interface")
        if not queue:
            self._reply(session, error(action_id, "'Queue' not specified."))
            return
        if not interface:
            self._reply(session, error(action_id, "'Interface' not specified."))
            return
        try:
            added = members.add(
                self._state,
                queue,
                interface,
                penalty=leading_int(get(fields, "Penalty")),
                paused=truthy(get(fields, "Paused")),
                member_name=get(fields, "MemberName"),
                state_interface=get(fields, "StateInterface"),
                reason=get(fields, "Reason"),
                now=self._now(),
            )
        except MemberError as exc:
            self._reply(session, error(action_id, str(exc)))
            return
        self._reply(session, response("Success", action_id, message="Added interface to queue"))
        self.emit([added])

    def queue_remove(self, session: Session, fields: Fields, action_id: str) -> None:
        queue, interface = get(fields, "Queue"), get(fields, "Interface")
        if not queue or not interface:
            self._reply(session, error(action_id, "Need 'Queue' and 'Interface' parameters."))
            return
        try:
            removed = members.remove(self._state, queue, interface)
        except MemberError as exc:
            self._reply(session, error(action_id, str(exc)))
            return
        message = "Removed interface from queue"
        self._reply(session, response("Success", action_id, message=message))
        self.emit([removed])

    def hangup(self, session: Session, fields: Fields, action_id: str) -> None:
        """``Hangup`` as ``ast_manager_hangup_helper`` answers it: a channel by its name (or
        Uniqueid) hung up at once, "Channel Hungup"; a ``/regex/`` hangs up every channel
        whose name matches, each listed as a ``ChannelHungup`` after the acknowledgement.
        ``Cause`` (0-127) becomes the hangup cause; another value is ignored, as there."""
        name = get(fields, "Channel")
        if not name:
            self._reply(session, error(action_id, "No channel specified"))
            return
        cause = get(fields, "Cause").strip()
        code = int(cause) if cause.isdigit() and int(cause) <= 127 else 0
        if not name.startswith("/"):
            found = next(
                (
                    c
                    for c in self._state.channels.values()
                    if name in (c.block["Channel"], c.block["Uniqueid"])
                ),
                None,
            )
            if found is None:
                self._reply(session, error(action_id, "No such channel"))
                return
            self._reply(session, response("Success", action_id, message="Channel Hungup"))
            self.emit(self._hangup(found, code))
            return
        if len(name) < 2 or not name.endswith("/"):
            self._reply(
                session, error(action_id, "Regex format invalid, Channel param should be /regex/")
            )
            return
        try:
            pattern = re.compile(name[1:-1])
        except re.error:
            self._reply(session, error(action_id, f"Regex compile failed on: {name}"))
            return
        matched = [
            c for c in list(self._state.channels.values()) if pattern.search(c.block["Channel"])
        ]
        idtext: Fields = [("ActionID", action_id)] if action_id else []
        answer = [list_ack(action_id, "Channels hung up will follow")]
        answer += [
            format_message([("Event", "ChannelHungup"), ("Channel", c.block["Channel"]), *idtext])
            for c in matched
        ]
        answer.append(
            format_message(
                [
                    ("Event", "ChannelsHungupListComplete"),
                    *idtext,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(matched))),
                ]
            )
        )
        self._reply(session, b"".join(answer))
        for channel in matched:
            self.emit(self._hangup(channel, code))

    def emit(self, events: Sequence[bytes]) -> None:
        """Events of the simulator's own making (no terminators), to every listener."""
        now = self._now()
        self._broadcaster.emit([(raw, event_name(raw) or b"", now) for raw in events])

    def _now(self) -> float:
        return self._state.now()

    def originate(self, session: Session, fields: Fields, action_id: str) -> None:
        channel = get(fields, "Channel")
        if not channel:
            self._reply(session, error(action_id, "Channel not specified"))
            return
        _tech, slash, endpoint = channel.partition("/")
        if not slash or not endpoint:
            self._reply(session, error(action_id, "Invalid channel"))
            return
        for key, message in (("Priority", "Invalid priority"), ("Timeout", "Invalid timeout")):
            value = get(fields, key).strip()
            if value and not value.isdigit():
                self._reply(session, error(action_id, message))
                return
        # Async or not, the answer comes at once: the outcome is the OriginateResponse event.
        self._reply(
            session, response("Success", action_id, message="Originate successfully queued")
        )
        name, number = split_callerid(get(fields, "CallerID"))
        self._originate(
            OriginateRequest(
                endpoint=endpoint.split("@")[0],
                exten=get(fields, "Exten"),
                action_id=action_id,
                callerid_name=name,
                callerid_num=number,
                channel=channel,
                context=get(fields, "Context"),
                variables=parse_variables(get_all(fields, "Variable")),
            )
        )


def event_mask(value: str) -> tuple[bool, bool]:
    """(events on, system events on) for a Login ``Events:`` or an ``EventMask:``. A list of
    classes (``call,agent``) counts as on, without filtering; FullyBooted needs "system"."""
    text = value.strip().lower()
    if text in ("", "on", "yes", "true", "y", "t", "1", "all", "-1"):
        return True, True
    if text in ("off", "no", "false", "n", "f", "0", "none"):
        return False, False
    classes = {c.strip() for c in text.split(",")}
    return True, bool(classes & {"system", "all"})


def truthy(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def split_callerid(value: str) -> tuple[str, str]:
    """``"Name" <number>`` -> (name, number); a lone value is the number if it looks like
    one, else the name (as ``ast_callerid_parse`` reads it)."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].rpartition("<")
        return name.strip().strip('"'), number.strip()
    if value and all(c.isdigit() or c in "+*#-() ." for c in value):
        return "", value
    return value.strip('"'), ""


def leading_int(value: str) -> int:
    """``sscanf("%d")``: the number a value starts with, 0 if none."""
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


# ast_cause2str's words for the causes a manager is likely to give (channel.c's table).
CAUSE_TEXTS = {
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
}


def hangup_event(block: dict[str, str], cause: int) -> bytes:
    """The ``Hangup`` of a channel hung up by the manager: its cause is the one the action
    gave (0, "Unknown", when none: chan_pjsip sets none of its own then)."""
    text = CAUSE_TEXTS.get(cause, "Unknown")
    pairs: Fields = [("Event", "Hangup"), ("Privilege", "call,all")]
    pairs += [(k, block[k]) for k in CHANNEL_KEYS]
    pairs += [("Cause", str(cause)), ("Cause-txt", text)]
    return format_message(pairs)[:-4]


def _hangup_alone(channel: Channel, cause: int) -> list[bytes]:
    """A channel of a played call: its own Hangup (what is left of a recorded call still plays
    as recorded; the simulator does not re-plan it)."""
    return [hangup_event(channel.block, cause)]
