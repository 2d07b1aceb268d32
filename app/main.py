"""The application: ``create_app`` and its lifespan (everything is built there, nothing at
import time)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app import admin, collector, headers, health, logs, metrics, shutdown
from app.agents import endpoints as agent_endpoints
from app.agents.wrapup import WrapUp
from app.audit import endpoints as audit_endpoints
from app.audit.service import AuditService, setting_digests
from app.auth import endpoints as auth_endpoints
from app.callbacks import endpoints as callback_endpoints
from app.calls import endpoints as call_endpoints
from app.config import Settings, get_settings
from app.contracts import endpoints as contract_endpoints
from app.customers import endpoints as customer_endpoints
from app.db import Database, unit_of_work
from app.errors import install_error_handlers
from app.followups import endpoints as followup_endpoints
from app.followups.worker import FollowupWorker
from app.history import endpoints as history_endpoints
from app.integrations import endpoints as integration_endpoints
from app.integrations.enrichment import Enricher
from app.integrations.process import WebhookProcess
from app.integrations.repository import NOTIFY_CHANNEL as INTEGRATIONS_CHANNEL
from app.integrations.stream import EventStream
from app.integrations.worker import WebhookWorker
from app.limits import install_limits
from app.messaging import endpoints as messaging_endpoints
from app.messaging.providers import build_provider
from app.messaging.service import TriggerBook
from app.messaging.worker import OutboxWorker
from app.originations import endpoints as origination_endpoints
from app.pbx import endpoints as pbx_endpoints
from app.reports import endpoints as report_endpoints
from app.reviews import endpoints as review_endpoints
from app.supervision import endpoints as supervision_endpoints
from app.supervision import qa_endpoints
from app.surveys import endpoints as survey_endpoints
from app.tracking import endpoints as tracking_endpoints
from app.users import endpoints as user_endpoints
from app.users.devices import DeviceRefresher
from app.users.service import ensure_first_admin
from recordings import endpoints as recording_endpoints
from recordings.cache import ServingFiles
from recordings.tasks import RecordingTasks
from screenpop import endpoints as pop_endpoints
from screenpop import wallboard as wallboard_endpoints
from screenpop.fanout import PgFanout
from screenpop.hub import Hub
from screenpop.keeper import Keeper
from screenpop.panel import PanelFiles
from screenpop.signins import SignIns
from screenpop.wallboard import Wallboard
from telephony.actions import PbxActions
from telephony.handlers import CallRecorder
from telephony.leader import PbxLeadership
from telephony.listener import AmiListener, Backoff, PbxConfig
from telephony.tracker import CallTracker

logger = logging.getLogger(__name__)

DESCRIPTION = """
Tamas (تماس) is a call-center CRM beside an Asterisk PBX.

Sign in with `POST /api/auth/token`, then send `Authorization: Bearer <token>`.
Roles: **agent** (customers and their own work), **supervisor** (everything agents can,
for all users), **admin** (users and settings).
"""


def write_private_file(path: Path, content: str) -> None:
    """Write ``content`` to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)


async def _first_admin(database: Database, settings: Settings) -> None:
    assert database.sessionmaker is not None
    password_file = settings.data_dir / "initial-admin-password"
    async with unit_of_work(database.sessionmaker) as session:
        created = await ensure_first_admin(session)
    if created is not None:
        await asyncio.to_thread(write_private_file, password_file, created[1] + "\n")
        logger.warning(
            "no users existed: created user 'admin'; its password is in %s "
            "(change it with `tamas user passwd admin`)",
            password_file,
        )


async def _audit_settings(database: Database, settings: Settings) -> None:
    """Settings come from the environment: a start with other values than the last start's
    is written to the audit log as a settings change (the keys, never the values)."""
    assert database.sessionmaker is not None
    digests = setting_digests(settings, settings.secret_key.get_secret_value().encode())
    async with unit_of_work(database.sessionmaker) as session:
        changed = await AuditService(session).settings_at_start(digests)
    if changed:
        logger.info("settings changed since the last start: %s", ", ".join(changed))


def create_app(
    settings: Settings | None = None,
    *,
    on_startup: Sequence[Callable[[Database], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """The application. ``on_startup`` hooks run once the database is open, before the PBX
    listeners start (``tamas demo`` adds its demo users there); ``on_shutdown`` hooks first
    thing at shutdown, while the database is still open (the demo's own tasks stop)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # uvicorn has configured its loggers by now: keep query-string tokens out of them.
        logs.install()
        app.state.shutting_down = False
        database = Database(settings)
        await database.open()
        fanout: PgFanout | None = None
        leadership: PbxLeadership | None = None
        keeper: Keeper | None = None
        signins: SignIns | None = None
        wrapup: WrapUp | None = None
        actions: PbxActions | None = None
        recording_tasks: RecordingTasks | None = None
        devices: DeviceRefresher | None = None
        wallboard: Wallboard | None = None
        recorder: CallRecorder | None = None
        followups: FollowupWorker | None = None
        sms_worker: OutboxWorker | None = None
        webhooks: WebhookWorker | None = None
        webhook_process: WebhookProcess | None = None
        thresholds: tuple[int, int, int] | None = None
        enricher = Enricher.from_settings(settings)
        try:
            app.state.database = database
            app.state.sessionmaker = database.sessionmaker
            # The recordings being sent now, which the cache's pruner leaves alone.
            app.state.serving_files = ServingFiles()
            if settings.environment == "development":
                await _first_admin(database, settings)
            await _audit_settings(database, settings)
            for hook in on_startup:
                await hook(database)
            assert database.sessionmaker is not None
            configs = {p.id: p for p in settings.pbxes}
            actions = PbxActions(
                [PbxConfig(p.id, p.host, p.port, p.username, p.secret) for p in configs.values()]
            )
            app.state.actions = actions
            wrapup = WrapUp(database.sessionmaker, settings, actions)
            recorder = CallRecorder(
                database.sessionmaker,
                [wrapup.on_calls],
                region=settings.default_region,
                settings=settings,
                sms_triggers=app.state.sms_triggers,
            )
            app.state.call_recorder = recorder
            hub = Hub()
            app.state.hub = hub
            keeper = Keeper(hub, pop_endpoints.token_checker(database.sessionmaker, settings))
            keeper.start()
            signins = SignIns(hub, database.sessionmaker, settings)
            signins.start()
            app.state.signins = signins
            wallboard = Wallboard(database.sessionmaker, settings)
            wallboard.start()
            app.state.wallboard = wallboard

            def listeners_busy() -> bool:
                following = getattr(app.state, "leadership", None)
                return following is not None and any(
                    listener.queue.qsize() for listener in following.listeners.values()
                )

            if settings.webhook_worker == "inline":
                webhooks = WebhookWorker(database.sessionmaker, settings, yield_to=listeners_busy)
                webhooks.start()
            elif settings.webhook_worker == "process":
                webhook_process = WebhookProcess(settings, database.url)
                webhook_process.start()
            app.state.webhook_process = webhook_process
            app.state.webhooks = webhooks
            stream = EventStream()
            app.state.event_stream = stream

            def integrations_changed(*_: object) -> None:
                if webhooks is not None:
                    webhooks.changed()
                stream.changed()

            if enricher is not None:
                enricher.start()
            app.state.enricher = enricher
            fanout = PgFanout(
                database.dsn,
                hub,
                database.sessionmaker,
                settings.default_region,
                extra_channels={
                    "tamas_wallboard": wallboard.changed,
                    INTEGRATIONS_CHANNEL: integrations_changed,
                },
                enricher=enricher,
            )
            await fanout.start()
            app.state.fanout = fanout
            wrapup.start()
            recording_tasks = RecordingTasks(
                database.sessionmaker, settings, app.state.serving_files
            )
            recording_tasks.start()
            app.state.recording_tasks = recording_tasks
            followups = FollowupWorker(database.sessionmaker, settings)
            followups.start()
            app.state.followups = followups
            sms_worker = OutboxWorker(
                database.sessionmaker,
                settings,
                build_provider(settings),
            )
            sms_worker.start()
            app.state.sms_worker = sms_worker
            # Which devices are the PBXes' own phones, and which trunks: read before any
            # listener starts, then kept up to date.
            devices = DeviceRefresher(
                database.sessionmaker,
                {p.id: p.internal_devices for p in configs.values()},
                settings.device_refresh_seconds,
            )
            await devices.refresh_once()
            devices.start()
            app.state.devices = devices

            async def make_listener(pbx_id: str) -> AmiListener:
                pbx = configs[pbx_id]
                return AmiListener(
                    PbxConfig(pbx.id, pbx.host, pbx.port, pbx.username, pbx.secret),
                    recorder,
                    tracker=CallTracker(
                        pbx.id,
                        is_internal=devices.books[pbx.id].is_internal,
                        region=settings.default_region,
                    ),
                    backoff=Backoff(
                        first=settings.ami_reconnect_first_seconds,
                        most=settings.ami_reconnect_most_seconds,
                    ),
                    buffer_calls=settings.ami_buffer_calls,
                    queue_events=settings.ami_queue_events,
                )

            leadership = PbxLeadership(database.dsn, list(configs), make_listener)
            await leadership.start()
            app.state.leadership = leadership
            logger.info(
                "Tamas is up (%d PBX configured, %d followed here)",
                len(configs),
                len(leadership.listeners),
            )
            # What start-up built lives as long as the process: moved out of the garbage
            # collector's sight, so that full collections (which stop everything, pops
            # included) only walk what came later; and collections made rarer (see
            # app/collector.py).
            thresholds = collector.settle()
            yield
        finally:
            if thresholds is not None:
                collector.restore(thresholds)
            for stop in on_shutdown:
                await stop()
            # See app/shutdown.py: panels told to go, events received stored, PBX locks
            # released, then the rest in reverse.
            await shutdown.going_away(app.state)
            if getattr(app.state, "event_stream", None) is not None:
                app.state.event_stream.close()  # event streams end; clients reconnect
            if leadership is not None:
                await shutdown.drain_listeners(leadership, settings.shutdown_drain_seconds)
                await leadership.stop()
            if recorder is not None:
                await recorder.stop()
            if wrapup is not None:
                await wrapup.stop()
            if keeper is not None:
                await keeper.stop()
            if signins is not None:
                await signins.stop()
            if followups is not None:
                await followups.stop()
            if devices is not None:
                await devices.stop()
            if recording_tasks is not None:
                await recording_tasks.stop()
            if sms_worker is not None:
                await sms_worker.stop()
            if wallboard is not None:
                await wallboard.stop()
            if webhooks is not None:
                await webhooks.stop()
            if webhook_process is not None:
                await webhook_process.stop()
            if fanout is not None:
                await fanout.stop()
            if enricher is not None:
                await enricher.stop()
            if actions is not None:
                actions.close()
            await database.close()

    app = FastAPI(
        title="Tamas",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sms_triggers = TriggerBook()
    app.state.metrics_registry = metrics.build_registry(app.state, [p.id for p in settings.pbxes])
    install_error_handlers(app)
    install_limits(app, settings)
    app.add_middleware(metrics.HttpMetrics)
    app.add_middleware(logs.RequestId)
    headers.install(app, settings)
    # Routes are matched in the order they are included: the dialplan's lookups first, as a
    # call waits on them (their /pbx/ paths overlap no other router's).
    app.include_router(pbx_endpoints.router)
    app.include_router(auth_endpoints.router)
    app.include_router(user_endpoints.router)
    app.include_router(customer_endpoints.router)
    app.include_router(call_endpoints.router)
    app.include_router(origination_endpoints.router)
    app.include_router(agent_endpoints.router)
    app.include_router(recording_endpoints.router)
    app.include_router(tracking_endpoints.router)
    app.include_router(tracking_endpoints.cases_router)
    app.include_router(contract_endpoints.router)
    app.include_router(callback_endpoints.router)
    app.include_router(followup_endpoints.router)
    app.include_router(history_endpoints.router)
    app.include_router(report_endpoints.router)
    app.include_router(review_endpoints.router)
    app.include_router(supervision_endpoints.router)
    app.include_router(messaging_endpoints.router)
    app.include_router(survey_endpoints.router)
    app.include_router(qa_endpoints.router)
    app.include_router(admin.router)
    app.include_router(audit_endpoints.router)
    app.include_router(integration_endpoints.router)
    app.include_router(pop_endpoints.router)
    app.include_router(wallboard_endpoints.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.mount("/panel", PanelFiles(), name="panel")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/panel/")

    return app
