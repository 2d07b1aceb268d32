"""Synthetic calls: which call, when, and in what order its events go out.

``CallFactory`` turns a scenario into a concrete call (a template rendered with a new caller,
new ids and shifted times). ``Player`` sends the events of the calls it holds in time order,
either on the wall clock or as fast as the socket takes them while keeping the same order
(so concurrent calls interleave exactly as they would have in real time). ``Traffic`` feeds
a player with new calls at a given rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Protocol

from app.tasks import within
from telephony.simulator.people import Caller, random_caller
from telephony.simulator.state import Agent
from telephony.simulator.templates import CallParams, IdAllocator, Template

log = logging.getLogger(__name__)

# In "max" mode events are written in batches: one socket write per batch keeps the
# simulator well ahead of any client.
MAX_BATCH = 256

Emitted = tuple[bytes, bytes, float]  # raw message, event name, its time on the stream clock


class Sink(Protocol):
    """Where events go: the simulator's broadcaster."""

    def ready(self, need_listeners: bool) -> bool: ...

    async def wait_ready(self, need_listeners: bool) -> None: ...

    async def emit(self, batch: Sequence[Emitted]) -> None: ...


@dataclass(frozen=True)
class GeneratedCall:
    scenario: str
    template: str
    number: bytes
    name: bytes | None
    messages: list[bytes]
    event_names: tuple[bytes, ...]
    offsets: tuple[float, ...]


@dataclass
class CallFactory:
    templates: Mapping[str, Sequence[Template]]
    agents: tuple[Agent, ...]
    ids: IdAllocator
    rng: Random
    boot_time: float = field(default_factory=time.time)
    # Callers a CRM would know (the demo's customers): this share of the calls comes from
    # one of them, the rest from random numbers.
    known: Sequence[Caller] = ()
    known_share: float = 0.0
    _made: int = 0

    def make(
        self,
        scenario: str,
        start: float,
        *,
        number: bytes | None = None,
        name: bytes | None = None,
        agent: str | None = None,
        action_id: bytes | None = None,
        callerid_name: bytes | None = None,
        template: Template | None = None,
    ) -> GeneratedCall:
        """A new call of ``scenario`` starting at unix time ``start``. ``agent`` picks who
        plays the recording's first agent (1001), e.g. the Channel of an Originate;
        ``template`` plays that recording rather than one of the scenario's."""
        if template is None:
            template = self.rng.choice(self.templates[scenario])
        if self.known and self.rng.random() < self.known_share:
            caller = self.rng.choice(self.known)
        else:
            caller = random_caller(self.rng)
        self._made += 1
        if action_id is None and template.action_id is not None:
            # A generated click-to-call answers an Originate nobody here sent: give it an
            # ActionID of its own so that no two calls share one.
            action_id = b"sim-c2c-%d" % self._made
        params = CallParams(
            start=start,
            number=number if number is not None else caller.number,
            name=name if name is not None else caller.name,
            agents=self._cast(agent),
            rng=self.rng,
            login_time=self.boot_time,
            action_id=action_id,
            callerid_name=callerid_name,
        )
        return GeneratedCall(
            scenario=scenario,
            template=template.name,
            number=params.number,
            name=params.name if template.customer_name is not None else None,
            messages=template.render(params, self.ids),
            event_names=template.event_names,
            offsets=template.offsets,
        )

    def _cast(self, first: str | None) -> tuple[Agent, ...]:
        cast = self.rng.sample(self.agents, k=min(3, len(self.agents)))
        if first is not None:
            chosen = next((a for a in self.agents if a.extension == first), Agent(first, first))
            cast = [chosen, *[a for a in cast if a != chosen]][:3]
        return tuple(cast)


@dataclass(order=True)
class _Pending:
    due: float
    order: int
    raw: bytes = field(compare=False)
    name: bytes = field(compare=False)
    at: float = field(compare=False)


class Player:
    """Sends the events of the calls it holds, in due order.

    ``realtime``: each event goes out at its due time on the player's clock. Otherwise events
    go out as fast as the sink takes them, in due order, but never past ``horizon``: the
    source has not added the calls that start after it yet, and sending beyond it would
    change the interleaving a real-time run has."""

    def __init__(self, sink: Sink, *, realtime: bool = True, wait_for_clients: bool = False):
        self.sink = sink
        self.realtime = realtime
        self.wait_for_clients = wait_for_clients
        self.horizon = math.inf
        self.events_emitted = 0
        self._heap: list[_Pending] = []
        self._order = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._origin = time.monotonic()

    def now(self) -> float:
        """The player's clock in seconds. It stops while the PBX is down, so that calls in
        flight keep their spacing."""
        return time.monotonic() - self._origin

    @property
    def pending(self) -> int:
        return len(self._heap)

    def add(self, call: GeneratedCall, at: float, speed: float | None, unix_start: float) -> None:
        """Schedule ``call`` to start at ``at`` on the player's clock; ``unix_start`` is the
        same moment on the stream clock (what its events' timestamps say)."""
        for raw, name, offset in zip(call.messages, call.event_names, call.offsets, strict=True):
            delay = 0.0 if speed is None else offset / speed
            self._order += 1
            heapq.heappush(
                self._heap,
                _Pending(at + delay, self._order, raw, name, unix_start + delay),
            )
        self.wake()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Until nothing is left to send up to the horizon (max mode)."""
        await self._idle.wait()

    def drop_calls(self) -> None:
        """Forget every call in flight (the PBX restarted: those calls are gone)."""
        self._heap.clear()
        self.wake()

    async def run(self) -> None:
        while True:
            if not self._heap or (not self.realtime and self._heap[0].due > self.horizon):
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.sink.ready(self.wait_for_clients):
                paused_at = time.monotonic()
                await self.sink.wait_ready(self.wait_for_clients)
                self._origin += time.monotonic() - paused_at
                continue
            due = self._heap[0].due
            if self.realtime and due > self.now():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self._wake.wait(), due - self.now())
                continue
            await self._send_due()

    async def _send_due(self) -> None:
        limit = self.now() if self.realtime else self.horizon
        batch: list[Emitted] = []
        while self._heap and self._heap[0].due <= limit and len(batch) < MAX_BATCH:
            item = heapq.heappop(self._heap)
            batch.append((item.raw, item.name, item.at))
        if batch:
            await self.sink.emit(batch)
            self.events_emitted += len(batch)


@dataclass
class TrafficOptions:
    """How ``Traffic`` generates: ``rate`` calls per second; each call's events spaced as
    recorded divided by ``speed`` (None: all at once); ``realtime`` False sends as fast as
    the clients read, in the order real time would have given; ``count`` calls in all
    (None: until stopped); ``scenarios`` weights (None: every scenario alike);
    ``wait_for_clients`` holds the traffic while no client listens (else calls go on
    unheard, as on a real PBX, and a client that comes back must resync)."""

    rate: float = 1.0
    speed: float | None = 1.0
    realtime: bool = True
    count: int | None = None
    scenarios: Mapping[str, float] | None = None
    wait_for_clients: bool = True

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("rate must be positive")
        if self.speed is not None and not self.speed > 0:
            raise ValueError("speed must be positive")
        if self.count is not None and self.count < 0:
            raise ValueError("count must not be negative")


class Traffic:
    """Starts calls at ``options.rate`` and plays them. With ``keep``, ``calls`` keeps every
    generated call (scenario, template, caller, messages) for tests."""

    # Max mode adds calls this many at a time, so that the player writes big batches.
    _MAX_MODE_STEP = 32

    def __init__(
        self, sink: Sink, factory: CallFactory, options: TrafficOptions, *, keep: bool = False
    ):
        self.options = options
        self.factory = factory
        self.player = Player(
            sink, realtime=options.realtime, wait_for_clients=options.wait_for_clients
        )
        self.calls_started = 0
        self.calls: list[GeneratedCall] = []
        self._keep = keep
        weights = dict(options.scenarios or {name: 1.0 for name in factory.templates})
        unknown = sorted(set(weights) - set(factory.templates))
        if unknown:
            raise ValueError(f"unknown scenario(s): {', '.join(unknown)}")
        self._names = list(weights)
        self._weights = [weights[name] for name in self._names]
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self._stop_starting = False
        self._base_unix = time.time()

    def start(self) -> Traffic:
        self._tasks = [
            asyncio.create_task(self.player.run(), name="pbx-sim player"),
            asyncio.create_task(self._run(), name="pbx-sim traffic"),
        ]
        return self

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def wait(self) -> None:
        """Until every call was started and all their events were sent."""
        await self._done.wait()

    async def finish(self) -> None:
        """Start no more calls; return when the calls under way have sent all their events
        (so that "events sent" counts whole calls, e.g. at the end of a benchmark)."""
        self._stop_starting = True
        self.player.wake()
        await self.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._done.set()

    def drop_calls(self) -> None:
        self.player.drop_calls()

    def _more(self) -> bool:
        if self._stop_starting:
            return False
        return self.options.count is None or self.calls_started < self.options.count

    async def _run(self) -> None:
        try:
            if self.options.realtime:
                await self._run_realtime()
            else:
                await self._run_max()
            # No more calls to come: everything left may go (in max mode too).
            self.player.horizon = math.inf
            self.player.wake()
            await self.player.wait_idle()
        except Exception:
            log.exception("synthetic traffic failed")
            raise
        finally:
            self._done.set()
        log.info("synthetic traffic done: %d calls", self.calls_started)

    async def _run_realtime(self) -> None:
        interval = 1.0 / self.options.rate
        next_at = self.player.now()
        while self._more():
            delay = next_at - self.player.now()
            if delay > 0:
                await asyncio.sleep(delay)
                if not self._more():
                    break
            elif delay < -interval:
                next_at = self.player.now()  # after a pause: no burst of make-up calls
            if not self.player.sink.ready(self.options.wait_for_clients):
                await self.player.sink.wait_ready(self.options.wait_for_clients)
                next_at = self.player.now()
                continue
            self._start_call(next_at, time.time())
            next_at += interval

    async def _run_max(self) -> None:
        interval = 1.0 / self.options.rate
        next_at = 0.0
        while self._more():
            for _ in range(self._MAX_MODE_STEP):
                if not self._more():
                    break
                self._start_call(next_at, self._base_unix + next_at)
                next_at += interval
            self.player.horizon = next_at if self._more() else math.inf
            self.player.wake()
            await self.player.wait_idle()

    def _start_call(self, at: float, unix_start: float) -> None:
        scenario = self.factory.rng.choices(self._names, self._weights)[0]
        call = self.factory.make(scenario, unix_start)
        self.player.add(call, at, self.options.speed, unix_start)
        self.calls_started += 1
        if self._keep:
            self.calls.append(call)
