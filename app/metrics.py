"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

Most figures already live in the running objects (each PBX listener's ``PbxHealth``, the hub's
connections, the fan-out's delivered count, the database pool): a custom collector reads
them at scrape time, so the hot paths pay nothing for them. Only what exists nowhere else is
counted as it happens: HTTP request latency (a middleware), screen-pop latency and slow
clients (one line each in the hub), resyncs told to panels.

Each instance exposes its own figures (its listeners, its sockets, its requests): scrape
every instance and sum in Prometheus. The instruments below are per process; a test process
that runs several apps shares them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from app.errors import DomainError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Screen-pops are expected in tens of milliseconds (the goal is p99 < 50 ms); the upper
# buckets catch a backlog after a database outage.
POP_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

POP_LATENCY = Histogram(
    "tamas_screenpop_latency_seconds",
    "From the call event (its PBX Timestamp, else the moment the listener received the "
    "frame) to the hub handing the pop to the agent's sockets.",
    buckets=POP_BUCKETS,
    registry=None,
)
SLOW_CLIENTS = Counter(
    "tamas_screenpop_slow_clients",
    "Panel sockets that fell too far behind: their queue was dropped and they were told to "
    "resync (the socket then closes with 4409).",
    registry=None,
)
RESYNCS_TOLD = Counter(
    "tamas_screenpop_resyncs_told",
    "Resync messages broadcast to panel sockets (every client, after the pop notifications' "
    "database connection came back or pops could not be fetched); slow clients apart.",
    registry=None,
)
HTTP_LATENCY = Histogram(
    "tamas_http_request_duration_seconds",
    "HTTP request latency by route template (not the raw path), method and status class.",
    ["route", "method", "status"],
    buckets=HTTP_BUCKETS,
    registry=None,
)

# The PbxHealth fields exported as counters (they only grow while a listener lives; a new
# listener after a takeover starts again from zero, which rate() treats as a reset).
_PBX_COUNTERS = {
    "events": ("tamas_ami_events", "AMI events received (rate() gives events/s)."),
    "malformed": ("tamas_ami_malformed_frames", "AMI frames that could not be parsed."),
    "skipped": ("tamas_ami_skipped_events", "AMI events no part of Tamas handles."),
    "handler_errors": (
        "tamas_ami_handler_errors",
        "Failures tracking or storing events (each retry of a failing batch counts).",
    ),
    "resyncs": ("tamas_ami_resyncs", "Resyncs from CoreShowChannels/QueueStatus after a login."),
}
# Shown by /health but not numbers to graph (or graphed otherwise).
_PBX_NOT_GAUGES = {"status", "reason", "retry_in_seconds", "connected_since", "backlog"}
PBX_STATES = ("starting", "connecting", "authenticating", "connected", "failed", "retrying")


def observe_pop(message: dict[str, Any]) -> None:
    """Called by the hub for every message it hands to an agent's sockets: O(1)."""
    at = message.get("event_at")
    if at is not None:
        POP_LATENCY.observe(max(0.0, time.time() - at))


class TamasCollector(Collector):
    """Reads the live objects of one app at scrape time."""

    def __init__(self, state: Any, pbx_ids: Iterable[str]) -> None:
        self.state = state  # the app's ``app.state``: filled in by the lifespan
        self.pbx_ids = list(pbx_ids)

    def collect(self) -> Iterator[Metric]:
        yield from self._pbxes()
        yield from self._screenpops()
        yield from self._pool()

    def _pbxes(self) -> Iterator[Metric]:
        leadership = getattr(self.state, "leadership", None)
        listeners = leadership.listeners if leadership is not None else {}
        counters = {
            key: CounterMetricFamily(name, text, labels=["pbx"])
            for key, (name, text) in _PBX_COUNTERS.items()
        }
        reconnects = CounterMetricFamily(
            "tamas_ami_reconnects", "Logins to the PBX after the first one.", labels=["pbx"]
        )
        followed = GaugeMetricFamily(
            "tamas_pbx_followed",
            "1 if this instance follows the PBX (holds its lock), 0 on standby.",
            labels=["pbx"],
        )
        connected = GaugeMetricFamily(
            "tamas_ami_connected", "1 while logged in to the PBX's AMI.", labels=["pbx"]
        )
        state = GaugeMetricFamily(
            "tamas_ami_state",
            "The AMI connection's state (1 for the current one).",
            labels=["pbx", "state"],
        )
        backlog = GaugeMetricFamily(
            "tamas_ami_backlog",
            "Events received from the PBX and not handled yet (the listener's queue).",
            labels=["pbx"],
        )
        extra: dict[str, GaugeMetricFamily] = {}
        for pbx in self.pbx_ids:
            listener = listeners.get(pbx)
            followed.add_metric([pbx], 1.0 if listener is not None else 0.0)
            if listener is None:
                continue
            health = listener.health.as_dict()
            for key, family in counters.items():
                family.add_metric([pbx], float(health.get(key) or 0))
            reconnects.add_metric([pbx], float(max(0, getattr(listener, "logins", 0) - 1)))
            connected.add_metric([pbx], 1.0 if health["status"] == "connected" else 0.0)
            for name in PBX_STATES:
                state.add_metric([pbx, name], 1.0 if health["status"] == name else 0.0)
            backlog.add_metric([pbx], float(listener.queue.qsize()))
            # Whatever else the listener reports (e.g. events held while the database is
            # away), as gauges named after it.
            for key, value in health.items():
                if key in _PBX_NOT_GAUGES or key in _PBX_COUNTERS:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    if key not in extra:
                        extra[key] = GaugeMetricFamily(
                            f"tamas_ami_{key}",
                            f"The listener's {key!r} (as /health shows it).",
                            labels=["pbx"],
                        )
                    extra[key].add_metric([pbx], float(value))
        yield from counters.values()
        yield from (reconnects, followed, connected, state, backlog)
        yield from extra.values()

    def _screenpops(self) -> Iterator[Metric]:
        hub = getattr(self.state, "hub", None)
        if hub is not None:
            yield GaugeMetricFamily(
                "tamas_screenpop_connections",
                "Panel websockets open on this instance.",
                value=float(hub.connections()),
            )
            yield GaugeMetricFamily(
                "tamas_screenpop_agents",
                "Agents with at least one panel websocket open on this instance.",
                value=float(len(hub.users())),
            )
        fanout = getattr(self.state, "fanout", None)
        if fanout is not None:
            yield CounterMetricFamily(
                "tamas_screenpop_pops_sent",
                "Pops (and withdrawals, ends, status messages) handed to agents here.",
                value=float(fanout.delivered),
            )
            yield GaugeMetricFamily(
                "tamas_screenpop_notifications_connected",
                "1 while the LISTEN connection for pops of every instance is up.",
                value=1.0 if fanout.connected.is_set() else 0.0,
            )

    def _pool(self) -> Iterator[Metric]:
        database = getattr(self.state, "database", None)
        engine = getattr(database, "engine", None)
        if engine is None:
            return
        pool = engine.pool
        for name, text, read in (
            ("size", "Connections the pool keeps.", "size"),
            ("checked_out", "Connections in use.", "checkedout"),
            ("checked_in", "Idle connections in the pool.", "checkedin"),
            ("overflow", "Connections open beyond the pool's size.", "overflow"),
        ):
            method = getattr(pool, read, None)
            if method is not None:
                yield GaugeMetricFamily(f"tamas_db_pool_{name}", text, value=float(method()))


def build_registry(state: Any, pbx_ids: Iterable[str]) -> CollectorRegistry:
    """One app's registry: its live objects and the process's instruments."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TamasCollector(state, pbx_ids))
    for instrument in (POP_LATENCY, SLOW_CLIENTS, RESYNCS_TOLD, HTTP_LATENCY):
        registry.register(instrument)
    return registry


class MetricsNotAllowed(DomainError):
    status_code = 401
    code = "not_authenticated"


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=True, response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this instance (text exposition format). No customer data and no
    secrets. Open like the health endpoints unless ``TAMAS_METRICS_TOKEN`` is set: then
    ``Authorization: Bearer <that token>`` is required."""
    token = request.app.state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = "Bearer " + token.get_secret_value()
        if not secrets.compare_digest(given.encode(), expected.encode()):
            raise MetricsNotAllowed(
                "metrics need Authorization: Bearer <TAMAS_METRICS_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """ASGI middleware: request latency by route template, method and status class. The route
    is the one Starlette matched (``/api/customers/{customer_id}``): a raw path would make a
    label value per customer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(template, scope["method"], f"{status // 100}xx").observe(
                time.perf_counter() - start
            )
