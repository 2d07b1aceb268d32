"""The AMI edge: one listener per PBX.

panoramisk receives; its event callback only puts the message on a queue (panoramisk would
start coroutine callbacks without keeping a handle, and their order and errors would be
lost). One consumer task per PBX drains the queue in order: tracker, then the handler that
stores and publishes. A malformed or unknown event is counted and skipped; nothing stops the
stream.

What the tracker produced is held (``telephony.buffer``) until the handler committed it:

* the database unreachable (``app.db.is_unreachable``): the consumer goes on reading and
  tracking, holds the calls' events (coalesced per call) and tries the database again every
  few seconds; once it answers, what is held is written in order, then the stream goes on.
  ``health.database`` says since when it is unreachable, ``health.buffered`` how much is
  held. At ``buffer_calls`` held, the listener stops reading the PBX (one warning, one
  ``buffer_full_episodes``) and disconnects; with the database back and the buffer written,
  it reconnects and resyncs (CoreShowChannels), as after any lost connection;
* a batch that fails for a reason of its own (a data error): tried again a few times, then
  cut in halves until the event that fails is found; that one is logged by name, counted in
  ``health.poisoned`` and dropped, and the stream goes on.

The queue between the socket and the consumer is bounded too (``queue_events``): beyond it
the socket is not read until the consumer catches up, so the PBX's TCP window fills
(backpressure) instead of this process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from panoramisk import Manager
from pydantic import SecretStr

from app.tasks import within
from telephony import members
from telephony.events import event_from_message
from telephony.framing import Message
from telephony.mixmonitor import MixMonitorFiles, recording_of_cdr
from telephony.model import CallEvent, Extras, LiveCalls, OriginateOutcome
from telephony.pbx_health import PbxHealth
from telephony.protocol import TamasAMIProtocol
from telephony.storing import BATCH, Handler, Storer
from telephony.tracker import CallTracker, ChannelStatus, QueueEntryStatus

logger = logging.getLogger(__name__)

__all__ = ["AmiListener", "Backoff", "Handler", "MixMonitorFiles", "PbxConfig", "PbxHealth"]

_RESYNC = object()
_WAKE = object()  # wakes the consumer to try what is held again


@dataclass(frozen=True)
class PbxConfig:
    id: str
    host: str
    port: int
    username: str
    secret: SecretStr


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
        self.listener._enqueue((frame, received_at))

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
        buffer_calls: int = 5000,
        queue_events: int = 20000,
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
        self.storer = Storer(
            config.id,
            handler,
            self.health,
            buffer_calls,
            on_full=self._let_go,
            on_caught_up=self._connect,
        )
        self.held = self.storer.held
        self.queue_events = queue_events
        self._reading_paused = False

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

    async def drain(self, within: float) -> bool:
        """For a graceful shutdown: stop reading the PBX, then give the consumer up to
        ``within`` seconds to store every event already received. True if it all was (the
        caller then ``stop()``s the listener)."""
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._manager is not None:
            with contextlib.suppress(Exception):
                self._manager.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            # Done when nothing is queued or held and the consumer waits for more (not
            # storing): asyncio.Queue keeps its waiting getters in ``_getters``.
            idle = self.queue.empty() and getattr(self.queue, "_getters", None)
            if idle and not len(self.held):
                return True
            await asyncio.sleep(0.02)
        return False

    # -- connection state ------------------------------------------------------------------

    def _connect(self) -> None:
        if self._stopping or self._manager is None or self.storer.let_go:
            return
        self._reconnect = None
        self.health.status = "connecting"
        self.health.retry_in_seconds = None
        self._auth_failed = False
        self._manager.connect()

    def _schedule_reconnect(self) -> None:
        if self._stopping or self.storer.let_go:
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
        self._reading_paused = False
        if self._stopping or self.storer.let_go:
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
        self._enqueue((frame, getattr(message, "received_at", time.time())))

    def _enqueue(self, item: tuple[Message, float]) -> None:
        # The reader's callback: O(1), never waits. Past the bound the socket is not read
        # until the consumer has caught up (``_resume_reading``).
        self.queue.put_nowait(item)
        if not self._reading_paused and self.queue.qsize() >= self.queue_events:
            transport = getattr(getattr(self._manager, "protocol", None), "transport", None)
            if transport is not None:
                transport.pause_reading()
                self._reading_paused = True
                self.health.reading_paused += 1

    def _resume_reading(self, force: bool = False) -> None:
        if not self._reading_paused or (not force and self.queue.qsize() > self.queue_events // 2):
            return
        self._reading_paused = False
        transport = getattr(getattr(self._manager, "protocol", None), "transport", None)
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    async def _watch(self) -> None:
        # A connection that went silent (a half-open TCP connection, a frozen PBX) is
        # closed so that it reconnects; panoramisk's pings keep a healthy one talking.
        while True:
            await asyncio.sleep(min(5.0, self.silence_timeout / 3))
            manager = self._manager
            protocol = getattr(manager, "protocol", None)
            self.health.backlog = self.queue.qsize()
            self.storer.show()
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
            try:
                # While something is held for an unreachable database, wake up to try it
                # again even when the PBX is quiet.
                item = await within(self.queue.get(), self.storer.wait())
            except TimeoutError:
                await self.storer.flush()
                continue
            batch = [item]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self._resume_reading()
            out: list[CallEvent] = []
            extras = Extras()
            for entry in batch:
                if entry is _WAKE:
                    continue
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
        signal = members.signal_from_event(event)
        if signal is not None:
            extras.signals.append(signal)
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
        """Hold call events (and the rest) and hand what is held to the handler."""
        self.storer.hold(events, extras)
        await self.storer.flush()

    def _let_go(self) -> None:
        # The storer's buffer is full (see Storer): disconnect, and stay so until it says.
        if self._reconnect is not None:
            self._reconnect.cancel()
            self._reconnect = None
        protocol = getattr(self._manager, "protocol", None)
        if protocol is not None:
            with contextlib.suppress(Exception):
                protocol.close()

    async def stop_when_stored(self, seconds: float) -> None:
        """Stop, after giving the handler up to ``seconds`` to store what is held
        (handing the PBX over to another instance)."""
        if len(self.held):
            self.storer.retry_at = 0.0
            self.queue.put_nowait(_WAKE)
            with contextlib.suppress(TimeoutError):
                await within(self.storer.stored.wait(), seconds)
        await self.stop()

    async def _resync(self) -> None:
        manager = self._manager
        if manager is None or manager.protocol is None:
            return
        # The answers come through the same socket: it must be read.
        self._resume_reading(force=True)
        try:
            reply = await within(
                manager.send_action({"Action": "CoreShowChannels"}, as_list=True), 10
            )
        except Exception:
            logger.exception("PBX %s: resync (CoreShowChannels) failed", self.config.id)
            return
        channels = [
            _channel_status(m.frame)
            for m in (reply if isinstance(reply, list) else [reply])
            if getattr(m, "frame", None) is not None and m.frame.event == "CoreShowChannel"
        ]
        self.mixmonitors.keep({c.uniqueid for c in channels})
        now = time.time()
        await self._deliver(self.tracker.resync(channels, now))
        # Calls stored as up that the PBX no longer has ended while nobody listened: closed.
        live = LiveCalls(self.config.id, frozenset(self.tracker.calls), now)
        await self._deliver([], Extras(live_calls=live))
        try:
            reply = await within(manager.send_action({"Action": "QueueStatus"}, as_list=True), 10)
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
        # Counted once the whole picture is stored, the queue members too: an agent who
        # connects after it gets their queues in the hello.
        self.health.resyncs += 1


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
