"""The AMI actions the simulator answers, as Asterisk 22's ``manager.c`` does.

Response shapes (key order, list acknowledgements, error texts) are those of the recorded
traces where they show them (``10_actions_idle``, ``11_actions_busy_responses``,
``06_click_to_call``) and of ``manager.c`` otherwise: an action before Login is refused with
"Permission denied", an unknown one with "Invalid/unknown command: X. Use Action:
ListCommands to show available commands."
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telephony.simulator.broadcast import Broadcaster, Emitted, Session
from telephony.simulator.protocol import Fields, error, format_message, get, response
from telephony.simulator.state import PbxState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    endpoint: str  # PJSIP/1001 -> "1001"
    exten: str  # the number to call
    action_id: str
    callerid_name: str


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
    ):
        self._broadcaster = broadcaster
        self._state = state
        self._username = username
        self._secret = secret
        self._boot_time = boot_time
        self._originate = originate
        self._handlers: dict[str, Callable[[Session, Fields, str], None]] = {
            "login": self.login,
            "logoff": self.logoff,
            "challenge": self.challenge,
            "ping": self.ping,
            "events": self.events,
            "coreshowchannels": self.core_show_channels,
            "queuestatus": self.queue_status,
            "queuepause": self.queue_pause,
            "originate": self.originate,
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
        members = self._state.find_members(interface, get(fields, "Queue"))
        if not members:
            self._reply(session, error(action_id, "Interface not found"))
            return
        pause = truthy(paused)
        message = "Interface paused successfully" if pause else "Interface unpaused successfully"
        self._reply(session, response("Success", action_id, message=message))
        # Then the event every client sees, shaped like QueueMemberStatus (Asterisk 22).
        now = self._state.now()
        events: list[Emitted] = []
        for member in members:
            changed = dict(member, Paused="1" if pause else "0")
            changed["PausedReason"] = get(fields, "Reason") if pause else ""
            if pause:
                changed["LastPause"] = str(int(now))
            raw = format_message(
                [("Event", "QueueMemberPause"), ("Privilege", "agent,all"), *changed.items()]
            )
            events.append((raw[:-4], b"QueueMemberPause", now))
        self._broadcaster.emit(events)

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
        name, _number = split_callerid(get(fields, "CallerID"))
        self._originate(
            OriginateRequest(endpoint.split("@")[0], get(fields, "Exten") or "s", action_id, name)
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
    """``"Name" <number>`` -> (name, number)."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].rpartition("<")
        return name.strip().strip('"'), number.strip()
    return "", value
