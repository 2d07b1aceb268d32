"""``AmiSimulator``: a PBX that speaks the AMI wire protocol on a TCP port.

It answers like Asterisk 22 (shapes copied from the recorded traces and Asterisk's
``manager.c``), replays recordings, generates synthetic calls, and breaks on command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from random import Random
from types import TracebackType

from telephony.simulator import members, spy
from telephony.simulator.actions import Actions, OriginateRequest, hangup_event
from telephony.simulator.broadcast import Broadcaster, Emitted, Rewrite, Session, Tap
from telephony.simulator.generator import (
    CallFactory,
    GeneratedCall,
    Player,
    Traffic,
    TrafficOptions,
)
from telephony.simulator.originate import (
    NO_CHANNEL_OUTCOMES,
    Originated,
    no_channel_call,
    originate_templates,
    outcome_name,
)
from telephony.simulator.people import Caller
from telephony.simulator.protocol import (
    BANNER,
    Fields,
    error,
    event_name,
    format_message,
    get,
)
from telephony.simulator.replay import Pace, Replay
from telephony.simulator.state import DEFAULT_AGENTS, Agent, Channel, PbxState
from telephony.simulator.templates import SCENARIOS, IdAllocator, Template, load_templates
from telephony.simulator.trace import Recording

log = logging.getLogger(__name__)

# The recorded traces double as the generator's templates; they live with the tests.
DEFAULT_TRACE_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ami"
# Asterisk's manager.c reads a request line into a 1025-byte buffer.
MAX_LINE = 1024


@cache
def _templates(trace_dir: Path) -> Mapping[str, Sequence[Template]]:
    return load_templates(trace_dir, SCENARIOS)


@cache
def _originate_templates(trace_dir: Path) -> Mapping[str, Sequence[Originated]]:
    return originate_templates(_templates(trace_dir))


# Decides how one Originate ends: by its number, or by a function of the whole request
# (returning None leaves it to ``originate_scenario``).
OutcomeChoice = Mapping[str, str] | Callable[[OriginateRequest], str | None]


class AmiSimulator:
    """A simulated Asterisk on ``host:port`` (port 0: any free port, see ``.port``).

    ``speed`` compresses the timing of the calls an ``Originate`` starts (None: all their
    events at once); ``seed`` makes generated callers, agents and scenario choices
    repeatable.

    How an ``Originate`` ends, as Asterisk 22 reports it:

    * ``answered``: the agent answers, then the customer (recording 06);
    * ``agent_no_answer``: the agent's phone rings until the Originate times out (A2);
    * ``customer_busy``: the agent answers, the customer's line is busy (A3);
    * ``customer_no_answer``, ``congestion``, ``invalid_number``: the agent answers, the
      carrier refuses the customer leg with 480, 503 or 404 (cause 19, 34 or 1);
    * ``device_offline`` (Reason 0), ``agent_busy`` (Reason 5): the agent's device cannot be
      called; there is no channel, only a failed ``OriginateResponse``.

    ``originate_scenario`` is the default (the old names ``click_to_call``,
    ``click_to_call_agent_no_answer`` and ``click_to_call_customer_busy`` still work);
    ``originate_outcome`` decides per request, either a mapping from the number dialled
    (the Originate's ``Exten``) to an outcome, or a function of the ``OriginateRequest``
    returning an outcome or None (the default). An Originate whose ``Channel`` is not one
    of ``agents``' endpoints always ends as ``device_offline``. ``originate_requests``
    keeps every Originate received, with its Context, CallerID and Variables.

    An ``Originate`` into ``tamas-spy`` (live supervision) is played as that context of
    the shipped dialplan runs: the supervisor's phone answers and sits in ChanSpy on the
    channel named by ``TAMAS_SPY_CHANNEL`` until that channel hangs up (``spies`` holds
    them); see ``spy.py``.

    ``pause_member`` and ``set_device_state`` change queue members the way the PBX does by
    itself (a pause key on the phone, a phone going offline), with the same events.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str,
        secret: str,
        speed: float | None = 1.0,
        seed: int | None = None,
        agents: Sequence[Agent] = DEFAULT_AGENTS,
        trace_dir: Path = DEFAULT_TRACE_DIR,
        originate_scenario: str = "click_to_call",
        originate_outcome: OutcomeChoice | None = None,
    ):
        outcome_name(originate_scenario)  # refuses an unknown one
        self.host = host
        self._port = port
        self.speed = speed
        self.seed = seed
        self.agents = tuple(agents)
        self.trace_dir = trace_dir
        self.originate_scenario = originate_scenario
        self.originate_outcome = originate_outcome
        self.originate_requests: list[OriginateRequest] = []
        self.boot_time = time.time()
        self.state = PbxState(agents=self.agents)
        self.state.reset(self.boot_time)  # members logged in when the PBX started
        self.broadcaster = Broadcaster(self.state)
        self.ids = IdAllocator()
        self._originated = 0
        self._rng = Random(seed)
        self._server: asyncio.Server | None = None
        self._up = asyncio.Event()
        self._connections: dict[Session, asyncio.Task[None]] = {}
        self._numbers = 0
        self._replay: Replay | None = None
        self._traffic: list[Traffic] = []
        self._originate_player: Player | None = None
        self._originate_task: asyncio.Task[None] | None = None
        self._factory: CallFactory | None = None
        self._sink = _Sink(self)
        # Supervisors' channels in ChanSpy, by their Uniqueid.
        self.spies: dict[str, spy.Spy] = {}
        self.state.hangup_listeners.append(self._spyee_gone)
        self._actions = Actions(
            self.broadcaster,
            self.state,
            username=username,
            secret=secret,
            boot_time=lambda: self.boot_time,
            originate=self._originate,
            hangup=self._hung_up_by_manager,
        )

    # --- life cycle -----------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> AmiSimulator:
        await self._listen()
        self._originate_player = Player(self._sink, realtime=self.speed is not None)
        self._originate_task = asyncio.create_task(
            self._originate_player.run(), name="pbx-sim originate"
        )
        log.debug("PBX simulator listening on %s:%d", self.host, self._port)
        return self

    async def stop(self) -> None:
        """Stop everything: traffic, replay, clients, the listening socket."""
        for traffic in self._traffic:
            await traffic.stop()
        if self._replay is not None:
            await self._replay.cancel()
        if self._originate_task is not None:
            self._originate_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._originate_task
            self._originate_task = None
        await self._close_listener()
        await self._close_connections(abort=False)

    async def __aenter__(self) -> AmiSimulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._connected, self.host, self._port, limit=max(MAX_LINE * 64, 2**16)
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._up.set()

    async def _close_listener(self) -> None:
        self._up.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _close_connections(self, *, abort: bool) -> None:
        for session in list(self._connections):
            session.abort() if abort else session.close()
        # Closing the transport ends each session's read loop by itself; cancelling the
        # task instead would make asyncio's stream callback log the CancelledError.
        tasks = list(self._connections.values())
        if tasks:
            _done, stuck = await asyncio.wait(tasks, timeout=5.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        self._connections.clear()

    # --- what is going on -----------------------------------------------------------

    @property
    def events_sent(self) -> int:
        """Events written to at least one client (replayed, generated, or the simulator's
        own such as QueueMemberPause); responses are not counted."""
        return self.broadcaster.events_sent

    @property
    def events_unheard(self) -> int:
        """Events the PBX sent while no client was listening."""
        return self.broadcaster.events_unheard

    @property
    def calls_started(self) -> int:
        """Calls generated so far (synthetic traffic and Originates; not replays)."""
        return self._originated + sum(t.calls_started for t in self._traffic)

    @property
    def traffic(self) -> tuple[Traffic, ...]:
        """Every ``generate`` so far."""
        return tuple(self._traffic)

    @property
    def clients(self) -> int:
        """Logged-in clients receiving events."""
        return len(self.broadcaster.listeners())

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    async def wait_for_client(self) -> None:
        """Until a client is logged in with events on."""
        await self.broadcaster.wait_for_listener()

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap`` with every piece of the event stream as it is written (tests)."""
        self.broadcaster.taps.append(tap)

    # --- replay and traffic ---------------------------------------------------------

    def replay(
        self,
        path: Path,
        *,
        pace: Pace = "recorded",
        loop: bool = False,
        until: float | None = None,
        split: int | None = None,
    ) -> Replay:
        """Start replaying ``path`` (a ``.ami`` file) to every client logged in with events
        on. See ``Replay`` for ``until`` and ``split``; ``await replay.wait()`` for the end."""
        if self._replay is not None:
            if self._replay.running:
                raise RuntimeError("a replay is already running")
            self._replay.abandon()  # one stream at a time: a paused one can't come back
        self._replay = Replay(
            self.broadcaster,
            Recording.load(path),
            self.broadcaster.flow,
            pace=pace,
            loop=loop,
            split=split,
        )
        return self._replay.start(until)

    def generate(
        self,
        rate: float = 1.0,
        *,
        speed: float | None = 1.0,
        realtime: bool = True,
        count: int | None = None,
        scenarios: Mapping[str, float] | Sequence[str] | None = None,
        seed: int | None = None,
        wait_for_clients: bool = True,
        keep: bool = False,
        known: Sequence[tuple[str, str]] = (),
        known_share: float = 0.0,
    ) -> Traffic:
        """Start synthetic calls (see ``TrafficOptions``); returns the running ``Traffic``
        (``calls_started``, ``await traffic.wait()``, ``await traffic.stop()``). ``known``:
        (number, name) of callers the CRM knows, who place ``known_share`` of the calls."""
        if scenarios is not None and not isinstance(scenarios, Mapping):
            scenarios = {name: 1.0 for name in scenarios}
        options = TrafficOptions(
            rate=rate,
            speed=speed,
            realtime=realtime,
            count=count,
            scenarios=scenarios,
            wait_for_clients=wait_for_clients,
        )
        factory = CallFactory(
            _templates(self.trace_dir),
            self.agents,
            self.ids,
            Random(self.seed if seed is None else seed),
            boot_time=self.boot_time,
            known=tuple(Caller(n.encode(), name.encode()) for n, name in known),
            known_share=known_share,
        )
        traffic = Traffic(self._sink, factory, options, keep=keep).start()
        self._traffic.append(traffic)
        return traffic

    # --- faults ---------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Cut every client connection at once: no Goodbye, unsent data lost. The PBX stays
        up and its calls go on."""
        for session in list(self._connections):
            session.abort()
        self.broadcaster.reset()

    async def restart(self, downtime: float = 1.0) -> None:
        """Restart the PBX: ``Event: Shutdown`` to every client, connections closed,
        connections refused for ``downtime`` seconds, then up again with no calls (channel
        numbers and Uniqueid sequence from zero, as after a real restart). Returns when the
        PBX accepts connections again; a client must log in again and gets FullyBooted."""
        cleanly = "Uncleanly" if self.state.active_channels else "Cleanly"
        self.broadcaster.send_whole(
            format_message(
                [
                    ("Event", "Shutdown"),
                    ("Privilege", "system,all"),
                    ("Shutdown", cleanly),
                    ("Restart", "True"),
                ]
            )
        )
        if self._replay is not None:
            await self._replay.cancel()
        for traffic in self._traffic:
            traffic.drop_calls()
        if self._originate_player is not None:
            self._originate_player.drop_calls()
        await self._close_listener()
        await self._close_connections(abort=False)
        self.broadcaster.reset()
        self.ids.reset()
        self.spies.clear()
        await asyncio.sleep(downtime)
        self.boot_time = time.time()
        self.state.reset(self.boot_time)
        await self._listen()
        log.info("PBX simulator restarted after %.1f s down", downtime)

    async def outage(self, seconds: float) -> None:
        """The network between the PBX and its clients fails for ``seconds``: every
        connection is cut at once (no Goodbye, unsent data lost) and new ones are refused,
        while the PBX and its calls go on (their events unheard); then connections are
        accepted again. Returns when they are."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.drop_connections()
        await asyncio.sleep(seconds)
        server = await asyncio.start_server(
            self._connected, self.host, self._port, limit=max(MAX_LINE * 64, 2**16)
        )
        self._server = server
        log.info("PBX simulator reachable again after a %.1f s outage", seconds)

    def send_garbage(self, data: bytes) -> None:
        """Write ``data`` as it is to every logged-in client, between two messages."""
        self.broadcaster.send_whole(data, everyone=True)

    def send_event(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Send one event of the caller's making to the event listeners."""
        raw = format_message(pairs)[:-4]
        self.broadcaster.emit([(raw, pairs[0][1].encode(), self.state.now())])

    # --- connections ----------------------------------------------------------------

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._numbers += 1
        session = Session(reader, writer, self._numbers)
        task = asyncio.current_task()
        assert task is not None
        self._connections[session] = task
        try:
            session.write(BANNER)
            while not session.closed:
                fields = await self._read_action(session)
                if fields is None:
                    break
                self._actions.dispatch(session, fields)
                await session.drain()  # this client's answers; never wait on another one
        except (ConnectionError, OSError):
            pass
        finally:
            self.broadcaster.remove(session)
            self._connections.pop(session, None)
            session.close()
            await _closed(session)

    async def _read_action(self, session: Session) -> Fields | None:
        """One request: lines up to an empty line (Asterisk also accepts a bare LF)."""
        fields: Fields = []
        too_long = False
        while True:
            try:
                line = await session.reader.readline()
            except ValueError:  # longer than the reader's limit: the rest is dropped
                too_long = True
                continue
            if not line:
                return None
            if len(line) > MAX_LINE:
                too_long = True
                continue
            text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            if not text:
                if too_long:
                    self.broadcaster.respond(
                        session,
                        error(get(fields, "ActionID"), "Failed to parse message: line too long"),
                    )
                    fields, too_long = [], False
                    continue
                if fields:
                    return fields
                continue
            key, sep, value = text.partition(":")
            fields.append((key.strip(), value.strip()) if sep else (text, ""))

    @property
    def originate_outcome(self) -> OutcomeChoice | None:
        return self._originate_outcome

    @originate_outcome.setter
    def originate_outcome(self, choice: OutcomeChoice | None) -> None:
        if isinstance(choice, Mapping):
            for outcome in choice.values():
                outcome_name(outcome)  # refuses an unknown one now, not at the Originate
        self._originate_outcome = choice

    def _outcome(self, request: OriginateRequest) -> str:
        tech, _, _ = request.channel.partition("/")
        known = tech.lower() == "pjsip" and any(
            agent.extension == request.endpoint for agent in self.agents
        )
        if not known:
            return "device_offline"  # chan_pjsip has no such endpoint: no channel
        choice = self._originate_outcome
        chosen: str | None = None
        if isinstance(choice, Mapping):
            chosen = choice.get(request.exten)
        elif choice is not None:
            chosen = choice(request)
        return outcome_name(chosen or self.originate_scenario)

    def _originate(self, request: OriginateRequest) -> None:
        self.originate_requests.append(request)
        try:
            outcome = self._outcome(request)
        except Exception:
            log.exception("originate_outcome failed for %s: answering device_offline", request)
            outcome = "device_offline"
        start = time.time()
        if request.context == spy.SPY_CONTEXT and outcome not in NO_CHANNEL_OUTCOMES:
            self._spy(request, start)
            return
        if outcome in NO_CHANNEL_OUTCOMES:
            call = no_channel_call(request, outcome)
        else:
            factory = self._call_factory()
            plan = factory.rng.choice(_originate_templates(self.trace_dir)[outcome])
            call = factory.make(
                outcome,
                start,
                number=(request.exten or "s").encode("utf-8", "surrogateescape"),
                agent=request.endpoint,
                action_id=request.action_id.encode("utf-8", "surrogateescape"),
                callerid_name=request.callerid_name.encode("utf-8", "surrogateescape") or None,
                template=plan.template,
            )
            call = plan.answer(call, request)
        assert self._originate_player is not None
        self._originate_player.add(call, self._originate_player.now(), self.speed, start)
        self._originated += 1

    def _spy(self, request: OriginateRequest, start: float) -> None:
        """The supervisor's phone answers and runs ``[tamas-spy]`` (see ``spy.py``)."""
        epoch = int(self.boot_time)
        endpoint = request.endpoint
        channel = f"PJSIP/{endpoint}-{self.ids.channel_suffix().decode()}"
        uniqueid = self.ids.uniqueid(epoch).decode()
        owner = next((a.name for a in self.agents if a.extension == endpoint), "")
        target = spy.target_of(request)
        # ChanSpy's prefix match, and "b": only a channel in a bridge.
        spyee = next(
            (
                c
                for c in self.state.channels.values()
                if target and c.block["Channel"].startswith(target) and c.bridge_id
            ),
            None,
        )
        events, started = spy.start(request, channel, uniqueid, (endpoint, owner), spyee)
        call = GeneratedCall(
            scenario="spy",
            template="",
            number=request.exten.encode(),
            name=None,
            messages=[raw for raw, _ in events],
            event_names=tuple(event_name(raw) or b"" for raw, _ in events),
            offsets=tuple(offset for _, offset in events),
        )
        if started is not None:
            self.spies[uniqueid] = started
        assert self._originate_player is not None
        self._originate_player.add(call, self._originate_player.now(), self.speed, start)
        self._originated += 1

    def _spyee_gone(self, name: str) -> None:
        for uniqueid, found in list(self.spies.items()):
            if found.spyee == name:
                del self.spies[uniqueid]
                # After the event being taken in has gone out, as ChanSpy notices it.
                asyncio.get_running_loop().call_soon(self._stop_spy, found)
            elif uniqueid == name:
                del self.spies[uniqueid]

    def _hung_up_by_manager(self, channel: Channel, cause: int) -> list[bytes]:
        """A ``Hangup`` action's channel: a supervisor's in ChanSpy stops spying first
        (ChanSpyStop, no dialplan step after it: the soft hangup ends the PBX thread)."""
        found = self.spies.pop(channel.block["Uniqueid"], None)
        if found is None:
            return [hangup_event(channel.block, cause)]
        return [*spy.stopped(found), hangup_event(channel.block, cause)]

    def _stop_spy(self, found: spy.Spy) -> None:
        if found.block["Uniqueid"] in self.state.channels:
            self._actions.emit(spy.stop(found))

    # --- the PBX changing by itself ---------------------------------------------------

    def pause_member(self, interface: str, paused: bool, reason: str = "", queue: str = "") -> int:
        """As if the agent pressed the pause key on the phone (PauseQueueMember in the
        dialplan): the QueueMemberPause events a QueuePause action gives, without a
        response. Every queue ``interface`` is a member of, or ``queue`` only; returns how
        many memberships changed (0: none, and nothing is sent)."""
        events = members.pause(self.state, interface, paused, reason, queue, self.state.now())
        self._actions.emit(events)
        return len(events)

    def set_device_state(self, device: str, state: str) -> None:
        """``device`` (e.g. ``PJSIP/1001``) is now in ``state``, as Asterisk names device
        states (NOT_INUSE, INUSE, BUSY, UNAVAILABLE, RINGING, ONHOLD...): a
        DeviceStateChange, then a QueueMemberStatus for each queue membership it backs."""
        if state not in members.DEVICE_STATES:
            raise ValueError(f"unknown device state {state!r}")
        self._actions.emit(members.device_state(self.state, device, state))

    def _call_factory(self) -> CallFactory:
        if self._factory is None:
            self._factory = CallFactory(
                _templates(self.trace_dir),
                self.agents,
                self.ids,
                self._rng,
                boot_time=self.boot_time,
            )
        return self._factory


class _Sink:
    """The simulator as the generator sees it."""

    def __init__(self, sim: AmiSimulator):
        self._sim = sim
        # A recorded QueueMemberStatus carries the recording PBX's members (static, unpaused,
        # in ``support``): what goes out is the member table's own, with the device state
        # the call gives it.
        self._rewrite: Rewrite = {
            b"QueueMemberStatus": lambda raw: members.current_status(sim.state, raw)
        }

    def ready(self, need_listeners: bool) -> bool:
        return self._sim.is_up and (not need_listeners or self._sim.broadcaster.has_listeners)

    async def wait_ready(self, need_listeners: bool) -> None:
        while not self.ready(need_listeners):
            await self._sim._up.wait()
            if need_listeners:
                await self._sim.broadcaster.wait_for_listener()

    async def emit(self, batch: Sequence[Emitted]) -> None:
        self._sim.broadcaster.emit(batch, self._rewrite)
        await self._sim.broadcaster.flow()


async def _closed(session: Session) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        await session.writer.wait_closed()
