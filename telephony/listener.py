"""The AMI edge: one listener per PBX.

panoramisk receives; its event callback only puts the message on a queue (panoramisk would
start coroutine callbacks without keeping a handle, and their order and errors would be
lost). One consumer task per PBX drains the queue in order: tracker, then the handler that
stores and publishes. A failing handler is logged and retried; a malformed or unknown event
is counted and skipped; nothing stops the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from panoramisk import Manager
from pydantic import SecretStr

from telephony import members
from telephony.events import AmiEvent, event_from_message
from telephony.framing import Message
from telephony.model import CallEvent, Extras, OriginateOutcome, RecordingNote
from telephony.protocol import TamasAMIProtocol
from telephony.tracker import CallTracker, ChannelStatus, QueueEntryStatus

logger = logging.getLogger(__name__)

# Called with each batch's call events, and with ``Extras`` when the batch had any.
Handler = Callable[..., Awaitable[None]]
_RESYNC = object()
_BATCH = 1000


@dataclass(frozen=True)
class PbxConfig:
    id: str
    host: str
    port: int
    username: str
    secret: SecretStr


@dataclass
class PbxHealth:
    """What the health endpoint shows for one PBX."""

    status: str = "starting"  # connecting | authenticating | connected | failed | retrying
    reason: str = ""
    retry_in_seconds: float | None = None
    connected_since: float | None = None
    events: int = 0
    skipped: int = 0
    malformed: int = 0
    handler_errors: int = 0
    backlog: int = 0
    resyncs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "retry_in_seconds": self.retry_in_seconds,
            "connected_since": self.connected_since,
            "events": self.events,
            "skipped": self.skipped,
            "malformed": self.malformed,
            "handler_errors": self.handler_errors,
            "backlog": self.backlog,
            "resyncs": self.resyncs,
        }


@dataclass
class Backoff:
    first: float = 1.0
    factor: float = 2.0
    most: float = 60.0
    _next: float = field(default=0.0, init=False)

    def next(self) -> float:
        self._next = self.first if self._next == 0 else min(self._next * self.factor, self.most)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with backoff, visible state and a resync after every login."""

    def __init__(self, listener: AmiListener, **config: Any) -> None:
        super().__init__(**config)
        self.listener = listener

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        try:
            f.result()
        except OSError as exc:
            self.listener._connection_failed(f"cannot connect: {exc.strerror or exc}")
            return
        self.listener.health.status = "authenticating"
        self.listener.health.reason = ""
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        if ok:
            self.listener._logged_in()
        else:
            # Asterisk closes the connection after a failed login; connection_lost follows.
            self.listener.health.status = "failed"
            self.listener.health.reason = "authentication failed: check the AMI username/secret"
            self.listener._auth_failed = True
        return ok

    def on_event_frame(self, frame: Message, received_at: float) -> None:
        self.listener.queue.put_nowait((frame, received_at))

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
            self.pinger = None
        self.listener._connection_lost(exc)


class AmiListener:
    def __init__(
        self,
        config: PbxConfig,
        handler: Handler,
        *,
        tracker: CallTracker | None = None,
        backoff: Backoff | None = None,
        ping_interval: float = 10.0,
        silence_timeout: float = 35.0,
    ) -> None:
        self.config = config
        self.handler = handler
        self.tracker = tracker or CallTracker(config.id)
        self.backoff = backoff or Backoff()
        self.health = PbxHealth()
        self.queue: asyncio.Queue[tuple[Message, float] | object] = asyncio.Queue()
        self.ping_interval = ping_interval
        self.silence_timeout = silence_timeout
        self._manager: _Manager | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._reconnect: asyncio.TimerHandle | None = None
        self._auth_failed = False
        self._stopping = False
        self.logins = 0
        self.mixmonitors = MixMonitorFiles()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._manager = _Manager(
            self,
            loop=loop,
            host=self.config.host,
            port=self.config.port,
            username=self.config.username,
            secret=self.config.secret.get_secret_value(),
            events="on",
            ping_delay=self.ping_interval,
            ping_interval=self.ping_interval,
            protocol_factory=TamasAMIProtocol,
            encoding="utf-8",
        )
        self._manager.register_event("*", self._on_event)
        self._consumer = asyncio.create_task(self._consume(), name=f"ami-consumer-{self.config.id}")
        self._watchdog = asyncio.create_task(self._watch(), name=f"ami-watchdog-{self.config.id}")
        self._connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._manager is not None:
            with contextlib.suppress(Exception):
                self._manager.close()
        for task in (self._watchdog, self._consumer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.health.status = "stopped"

    # -- connection state ------------------------------------------------------------------

    def _connect(self) -> None:
        if self._stopping or self._manager is None:
            return
        self._reconnect = None
        self.health.status = "connecting"
        self.health.retry_in_seconds = None
        self._auth_failed = False
        self._manager.connect()

    def _schedule_reconnect(self) -> None:
        if self._stopping:
            return
        delay = self.backoff.next()
        if self._auth_failed:
            # Wrong credentials do not fix themselves quickly: do not hammer the PBX.
            delay = max(delay, min(30.0, self.backoff.most))
        self.health.retry_in_seconds = delay
        if self.health.status not in ("failed",):
            self.health.status = "retrying"
        loop = asyncio.get_running_loop()
        self._reconnect = loop.call_later(delay, self._connect)
        logger.info("PBX %s: reconnecting in %.0f s", self.config.id, delay)

    def _connection_failed(self, reason: str) -> None:
        self.health.status = "failed"
        self.health.reason = reason
        logger.warning("PBX %s: %s", self.config.id, reason)
        self._schedule_reconnect()

    def _connection_lost(self, exc: Any) -> None:
        if self._stopping:
            return
        self.health.connected_since = None
        if not self._auth_failed:
            self.health.status = "retrying"
            # panoramisk passes the Shutdown event itself when the PBX announced it.
            shutdown = exc is not None and not isinstance(exc, Exception)
            self.health.reason = "the PBX shut down" if shutdown else "connection lost"
            logger.warning("PBX %s: connection lost", self.config.id)
        else:
            logger.warning("PBX %s: authentication failed", self.config.id)
        self._schedule_reconnect()

    def _logged_in(self) -> None:
        self.backoff.reset()
        self.logins += 1
        self.health.status = "connected"
        self.health.reason = ""
        self.health.retry_in_seconds = None
        self.health.connected_since = time.time()
        logger.info("PBX %s: connected and logged in", self.config.id)
        # In the queue, so the resync happens in order with the events around it.
        self.queue.put_nowait(_RESYNC)

    def _on_event(self, _: Any, message: Any) -> None:
        frame = getattr(message, "frame", None)
        if frame is None:
            return
        self.queue.put_nowait((frame, getattr(message, "received_at", time.time())))

    async def _watch(self) -> None:
        # A connection that went silent (a half-open TCP connection, a frozen PBX) is
        # closed so that it reconnects; panoramisk's pings keep a healthy one talking.
        while True:
            await asyncio.sleep(min(5.0, self.silence_timeout / 3))
            manager = self._manager
            protocol = getattr(manager, "protocol", None)
            self.health.backlog = self.queue.qsize()
            if protocol is None or self.health.status != "connected":
                continue
            self.health.malformed = getattr(protocol, "malformed", 0)
            silent = time.monotonic() - getattr(protocol, "last_received", time.monotonic())
            if silent > self.silence_timeout:
                logger.warning("PBX %s: silent for %.0f s, reconnecting", self.config.id, silent)
                protocol.close()
                self._connection_lost(None)

    # -- the ordered consumer --------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item = await self.queue.get()
            batch = [item]
            while len(batch) < _BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            out: list[CallEvent] = []
            extras = Extras()
            for entry in batch:
                if entry is _RESYNC:
                    await self._deliver(out, extras)
                    out, extras = [], Extras()
                    await self._resync()
                    continue
                assert isinstance(entry, tuple)
                frame, received_at = entry
                out += self._track(frame, received_at, extras)
            await self._deliver(out, extras)
            self.health.backlog = self.queue.qsize()

    def _track(self, frame: Message, received_at: float, extras: Extras) -> list[CallEvent]:
        event = event_from_message(self.config.id, frame, received_at)
        if event is None:
            return []
        self.health.events += 1
        if members.handles(event.name):
            member = members.member_from_event(event)
            if member is not None:
                extras.members.append(member)
            return []
        if event.name == "Cdr":
            note = recording_of_cdr(event)
            if note is not None:
                extras.recordings.append(note)
        note = self.mixmonitors.note(event)
        if note is not None:
            extras.recordings.append(note)
        if event.name == "OriginateResponse" and event.get("ActionID"):
            extras.originates.append(
                OriginateOutcome(
                    pbx=event.pbx,
                    action_id=event.get("ActionID"),
                    success=event.get("Response").lower() == "success",
                    reason=event.get("Reason"),
                    channel=event.get("Channel"),
                    uniqueid=event.uniqueid,
                    at=event.at,
                )
            )
        if not self.tracker.handles(event.name):
            self.health.skipped += 1
            return []
        if event.name == "FullyBooted":
            return []
        try:
            return self.tracker.handle(event)
        except Exception:
            self.health.handler_errors += 1
            logger.exception("PBX %s: failed to track a %s event", self.config.id, event.name)
            return []

    async def _deliver(self, events: list[CallEvent], extras: Extras | None = None) -> None:
        """Hand call events (and the rest) to the handler; retry (the database may be
        restarting) rather than lose them."""
        if not events and not extras:
            return
        delay = 0.5
        while True:
            try:
                if extras:
                    await self.handler(events, extras)
                else:
                    await self.handler(events)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.health.handler_errors += 1
                logger.exception(
                    "PBX %s: storing %d call events failed; retrying in %.1f s",
                    self.config.id,
                    len(events),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _resync(self) -> None:
        manager = self._manager
        if manager is None or manager.protocol is None:
            return
        try:
            reply = await asyncio.wait_for(
                manager.send_action({"Action": "CoreShowChannels"}, as_list=True), timeout=10
            )
        except Exception:
            logger.exception("PBX %s: resync (CoreShowChannels) failed", self.config.id)
            return
        channels = [
            _channel_status(m.frame)
            for m in (reply if isinstance(reply, list) else [reply])
            if getattr(m, "frame", None) is not None and m.frame.event == "CoreShowChannel"
        ]
        self.health.resyncs += 1
        self.mixmonitors.keep({c.uniqueid for c in channels})
        now = time.time()
        await self._deliver(self.tracker.resync(channels, now))
        try:
            reply = await asyncio.wait_for(
                manager.send_action({"Action": "QueueStatus"}, as_list=True), timeout=10
            )
        except Exception:
            logger.exception("PBX %s: resync (QueueStatus) failed", self.config.id)
            return
        frames = [
            m.frame
            for m in (reply if isinstance(reply, list) else [reply])
            if getattr(m, "frame", None) is not None
        ]
        snapshot = members.snapshot_from_status(self.config.id, frames, now)
        await self._deliver([], Extras(member_snapshot=snapshot))
        entries = [
            QueueEntryStatus(
                queue=m.frame.get("Queue"),
                uniqueid=m.frame.get("Uniqueid"),
                wait_seconds=_seconds(m.frame.get("Wait")),
            )
            for m in (reply if isinstance(reply, list) else [reply])
            if getattr(m, "frame", None) is not None and m.frame.event == "QueueEntry"
        ]
        self.tracker.resync_queues(entries, now)


_AUDIO = (".wav", ".wav49", ".gsm", ".mp3", ".ogg", ".opus", ".sln", ".ulaw", ".alaw")


def recording_of_cdr(event: AmiEvent) -> RecordingNote | None:
    """The recording a ``Cdr`` event names: FreePBX's ``recordingfile`` column when the
    cdr_manager mapping sends it, else a file name in ``UserField``, where dialplans that
    record often put it."""
    for key in ("recordingfile", "RecordingFile", "UserField"):
        value = event.get(key).strip()
        if value and value.lower().endswith(_AUDIO) and event.get("UniqueID"):
            return RecordingNote(event.pbx, event.get("UniqueID"), value, "cdr", event.at)
    return None


class MixMonitorFiles:
    """Which file each channel's MixMonitor writes, to tell what a ``MixMonitorStart`` or
    ``MixMonitorStop`` is about: those events name the channel, not the file, and
    ``MixMonitor()`` sets the channel's ``MIXMONITOR_FILENAME`` just before it starts.

    Asterisk sends ``MixMonitorStop`` only for ``StopMixMonitor`` (the application, the AMI
    action, the CLI), after closing the file: the recording is then whole, even with the call
    still up. A recording that ends with the channel's hangup has no such event. FreePBX's
    one-touch recording starts MixMonitor again on the same file (appending), hence a
    ``MixMonitorStart`` note too, for a channel whose recording was stopped before."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}
        self._stopped: set[str] = set()

    def note(self, event: AmiEvent) -> RecordingNote | None:
        uniqueid = event.uniqueid
        if not uniqueid:
            return None
        if event.name == "VarSet":
            if event.get("Variable") == "MIXMONITOR_FILENAME" and event.get("Value"):
                self._files[uniqueid] = event.get("Value")
        elif event.name == "Hangup":
            self._files.pop(uniqueid, None)
            self._stopped.discard(uniqueid)
        elif event.name == "MixMonitorStop":
            self._stopped.add(uniqueid)
            # An empty path: a recording started before Tamas was listening.
            path = self._files.get(uniqueid, "")
            return RecordingNote(event.pbx, uniqueid, path, "stop", event.at)
        elif event.name == "MixMonitorStart" and uniqueid in self._stopped:
            self._stopped.discard(uniqueid)
            path = self._files.get(uniqueid, "")
            return RecordingNote(event.pbx, uniqueid, path, "start", event.at) if path else None
        return None

    def keep(self, uniqueids: set[str]) -> None:
        """After a resync: forget the channels that are gone (their Hangup was missed)."""
        self._files = {u: f for u, f in self._files.items() if u in uniqueids}
        self._stopped &= uniqueids


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _duration(text: str) -> float:
    # CoreShowChannel Duration is HH:MM:SS.
    try:
        h, m, s = (int(p) for p in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def _channel_status(frame: Message) -> ChannelStatus:
    def get(key: str) -> str:
        value = frame.get(key)
        return "" if value == "<unknown>" else value

    return ChannelStatus(
        channel=get("Channel"),
        uniqueid=get("Uniqueid"),
        linkedid=get("Linkedid"),
        state=get("ChannelState"),
        caller_number=get("CallerIDNum"),
        caller_name=get("CallerIDName"),
        connected_number=get("ConnectedLineNum"),
        exten=get("Exten"),
        duration_seconds=_duration(get("Duration")),
    )
