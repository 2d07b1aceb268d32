"""Supervisors on the floor: listen, whisper and barge on an agent's live call; pause,
unpause and move agents between queues. Supervisors and admins only; every use audited."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.endpoints import send_all
from app.audit.service import AuditService
from app.db import unit_of_work
from app.deps import (
    AgentUser,
    ClientAddress,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
    SupervisorUser,
    has_role,
)
from app.errors import DomainError, InvalidInput, PbxRefused, PbxUnreachable
from app.history.filters import day_bounds
from app.models import Role, SpySession, User
from app.schemas import DbId
from app.supervision.activity_service import ActivityService
from app.supervision.period_service import PeriodQuery, PeriodService
from app.supervision.periods import FIGURES, Grouping
from app.supervision.schemas import (
    SpyRequest,
    SpySessionRead,
    SupervisorPause,
    SupervisorRequested,
)
from app.supervision.service import SupervisionService, failure_text, session_seconds
from screenpop.service import PopService
from telephony.actions import ActionFailed, PbxActions, PbxUnavailable

router = APIRouter(prefix="/api/supervision", tags=["supervision"])


def _read(spy: SpySession) -> SpySessionRead:
    read = SpySessionRead.model_validate(spy)
    read.failure_text = failure_text(spy.failure) if spy.failure else ""
    read.seconds = session_seconds(spy)
    return read


@router.post(
    "/spy",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SpySessionRead,
    responses={
        404: {"description": "no such agent, or the agent has no call up (it ended)"},
        409: {"description": "the agent's call is not answered yet"},
        422: {"description": "you have no phone set up, or the device is not yours"},
        502: {"description": "the PBX refused the Originate"},
        503: {"description": "the PBX cannot be reached"},
    },
)
async def spy(
    request: Request,
    body: SpyRequest,
    user: SupervisorUser,
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
    address: ClientAddress,
) -> SpySessionRead:
    """Join an agent's live call from your own phone: `listen` (nobody hears you),
    `whisper` (only the agent hears you) or `barge` (both sides hear you). Your phone rings
    first (Originate into the PBX's spy context, ChanSpy with `q`: the agent is not told);
    the session is `active` once you answer and `ended` when you hang up or the call ends.
    A phone that is offline or not answered makes it `failed` (`failure` says why). Every
    use is kept (`GET /api/supervision/spy`) and audited."""
    async with unit_of_work(sessionmaker) as session:
        service = SupervisionService(session, settings)
        found, action = await service.prepare_spy(user, body.agent_id, body.mode, body.device)
        await _audit_spy(session, "supervision_spy", user, address, found)
    actions: PbxActions = request.app.state.actions
    failure: DomainError | None = None
    try:
        await actions.get(found.pbx).send(action)
    except PbxUnavailable as exc:
        failure = PbxUnreachable(str(exc))
    except ActionFailed as exc:
        failure = PbxRefused(f"the PBX refused to ring your phone: {exc}")
    if failure is not None:
        async with unit_of_work(sessionmaker) as session:
            await SupervisionService(session, settings).refused(found.id, failure.code)
        raise failure
    return _read(found)


async def _audit_spy(
    session: AsyncSession, event: str, user: User, address: str, found: SpySession
) -> None:
    """A spy session begun or ended: who, whom, which call (the audit log)."""
    await AuditService(session).record(
        event,
        user,
        address=address,
        target=f"user:{found.agent_user_id}",
        mode=found.mode,
        call_id=found.call_id,
        session_id=found.id,
    )


@router.post(
    "/spy/{spy_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SpySessionRead,
    responses={
        403: {"description": "someone else's session (admins may end any)"},
        409: {"description": "your phone has not answered yet, or it has ended already"},
        502: {"description": "the PBX refused the Hangup"},
        503: {"description": "the PBX cannot be reached"},
    },
)
async def stop_spy(
    request: Request,
    spy_id: DbId,
    user: SupervisorUser,
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
    address: ClientAddress,
) -> SpySessionRead:
    """End a listen, whisper or barge from Tamas: your phone's channel is hung up (AMI
    `Hangup`); the agent's call goes on, and the agent is not told. The session is `ended`
    (with its end and length) once the PBX reports the hangup; a channel the PBX no longer
    has ends it at once."""
    async with unit_of_work(sessionmaker) as session:
        found, action = await SupervisionService(session, settings).prepare_stop(user, spy_id)
        await _audit_spy(session, "supervision_spy_stop", user, address, found)
    actions: PbxActions = request.app.state.actions
    failure: DomainError | None = None
    try:
        await actions.get(found.pbx).send(action)
    except PbxUnavailable as exc:
        failure = PbxUnreachable(str(exc))
    except ActionFailed as exc:
        if "no such channel" in str(exc).lower():
            async with unit_of_work(sessionmaker) as session:
                found = await SupervisionService(session, settings).gone(found.id) or found
        else:
            failure = PbxRefused(f"the PBX refused to hang up your phone: {exc}")
    if failure is not None:
        async with unit_of_work(sessionmaker) as session:
            await SupervisionService(session, settings).not_stopped(found.id)
        raise failure
    return _read(found)


@router.get("/spy", response_model=list[SpySessionRead])
async def spy_sessions(
    session: SessionDep,
    settings: SettingsDep,
    _: SupervisorUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: DbId | None = None,
    supervisor: DbId | None = None,
    agent: DbId | None = None,
) -> list[SpySessionRead]:
    """Who listened to whom, on which call, how and for how long: newest first."""
    rows = await SupervisionService(session, settings).page(
        limit=limit, before_id=before, supervisor_id=supervisor, agent_id=agent
    )
    return [_read(r) for r in rows]


@router.get("/spy/{spy_id}", response_model=SpySessionRead)
async def spy_session(
    spy_id: DbId, session: SessionDep, settings: SettingsDep, _: SupervisorUser
) -> SpySessionRead:
    """One supervision session as it stands (requested, active, ended or failed)."""
    return _read(await SupervisionService(session, settings).get(spy_id))


async def _act(
    request: Request,
    session: Any,
    settings: Any,
    user: Any,
    address: str,
    agent_id: int,
    action: str,
    build: Any,
    **details: Any,
) -> SupervisorRequested:
    service = SupervisionService(session, settings)
    agent = await service.agent(agent_id)
    actions = await build(service, agent)
    await send_all(request, actions)
    await AuditService(session).record(
        f"supervision_{action}", user, address=address, target=f"user:{agent.id}", **details
    )
    # On the agent's panel once this commits: who did it (the change itself comes from the
    # PBX, as an agent status message).
    await PopService(session, settings.default_region).add(
        [service.told(agent, user, action, **details)]
    )
    return SupervisorRequested(actions=len(actions), agent_id=agent.id, action=action)


@router.post(
    "/agents/{agent_id}/pause",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SupervisorRequested,
)
async def pause_agent(
    request: Request,
    agent_id: DbId,
    body: SupervisorPause,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    address: ClientAddress,
) -> SupervisorRequested:
    """Pause an agent in all their queues, with a reason (`QueuePause`). Their panel shows
    that you did it."""
    return await _act(
        request,
        session,
        settings,
        user,
        address,
        agent_id,
        "pause",
        lambda s, a: s.pause_actions(a, True, body.reason),
        reason=body.reason,
    )


@router.post(
    "/agents/{agent_id}/unpause",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SupervisorRequested,
)
async def unpause_agent(
    request: Request,
    agent_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    address: ClientAddress,
) -> SupervisorRequested:
    """Make an agent available again in all their queues."""
    return await _act(
        request,
        session,
        settings,
        user,
        address,
        agent_id,
        "unpause",
        lambda s, a: s.pause_actions(a, False),
    )


QueueName = Annotated[str, Path(max_length=80, description="the queue name")]
PbxQuery = Annotated[str | None, Query(max_length=64)]


@router.post(
    "/agents/{agent_id}/queues/{queue}/login",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SupervisorRequested,
)
async def log_agent_in(
    request: Request,
    agent_id: DbId,
    queue: QueueName,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    address: ClientAddress,
    pbx: PbxQuery = None,
) -> SupervisorRequested:
    """Log an agent in to a queue agents join themselves (`QueueAdd`)."""
    return await _act(
        request,
        session,
        settings,
        user,
        address,
        agent_id,
        "queue_login",
        lambda s, a: s.queue_actions(a, pbx, queue, True),
        queue=queue,
    )


@router.post(
    "/agents/{agent_id}/queues/{queue}/logout",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SupervisorRequested,
)
async def log_agent_out(
    request: Request,
    agent_id: DbId,
    queue: QueueName,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    address: ClientAddress,
    pbx: PbxQuery = None,
) -> SupervisorRequested:
    """Log an agent out of a queue (`QueueRemove`)."""
    return await _act(
        request,
        session,
        settings,
        user,
        address,
        agent_id,
        "queue_logout",
        lambda s, a: s.queue_actions(a, pbx, queue, False),
        queue=queue,
    )


# -- the agents' activity -----------------------------------------------------------------

ACTIVITY_COLUMNS = [
    "user_id",
    "name",
    "signed_in_seconds",
    "logged_in_seconds",
    "talking_seconds",
    "ringing_seconds",
    "wrapup_seconds",
    "pause_seconds",
    "idle_seconds",
    "unavailable_seconds",
    "occupancy_pct",
    "utilisation_pct",
    "calls_handled",
    "calls_per_hour",
    "missed_rings",
    "pause_by_reason",
]


def _period(from_: str, to: str, settings: Any, most_days: int = 400) -> tuple[Any, Any]:
    start, end = day_bounds(from_, to, settings.time_zone)
    assert start is not None and end is not None
    if (end - start).days > most_days:
        raise InvalidInput(f"a report covers at most {most_days} days", field="to")
    return start, end


FromQuery = Annotated[
    str, Query(alias="from", min_length=1, max_length=40, description="first day (ISO or Jalali)")
]
ToQuery = Annotated[str, Query(min_length=1, max_length=40, description="last day, inclusive")]


@router.get("/activity")
async def activity(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    from_: FromQuery,
    to: ToQuery,
    agent: DbId | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """How each agent spent the period: signed in to Tamas (a panel open), and from the
    PBX's own events logged-in, talk, ringing,
    wrap-up, pause (and by reason), idle and unavailable time, occupancy, utilisation, calls
    handled (and per logged-in hour), missed rings; and the team's total (definitions in the
    README). Agents get their own figures only."""
    start, end = _period(from_, to, settings)
    users = [agent] if agent is not None else None
    if not has_role(user, Role.supervisor):
        users = [user.id]
    report = await ActivityService(session).report(start, end, users)
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ACTIVITY_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for row in report["agents"]:
            reasons = "; ".join(f"{k}={v}" for k, v in row["pause_by_reason"].items())
            writer.writerow(
                {**{c: row.get(c) for c in ACTIVITY_COLUMNS}, "pause_by_reason": reasons}
            )
        return Response(
            "\ufeff" + buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="activity.csv"'},
        )
    return report


@router.get("/activity/timeline")
async def activity_timeline(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    day: Annotated[str, Query(min_length=1, max_length=40, description="ISO or Jalali")],
    agent: DbId | None = None,
) -> dict[str, Any]:
    """One agent's day as a row of intervals (the timeline picture): each state with its
    start and end, clipped to the day; `signed_in`: the same for their sign-ins to Tamas
    (a row of its own). Agents see their own."""
    start, end = _period(day, day, settings)
    if not has_role(user, Role.supervisor) or agent is None:
        agent = user.id
    service = ActivityService(session)
    return {
        "agent": agent,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "intervals": await service.timeline(agent, start, end),
        "signed_in": await service.timeline(agent, start, end, signed_in=True),
    }


# -- period reports ---------------------------------------------------------------------------

PERIOD_COLUMNS = ["key", "first_day", "last_day", *FIGURES]


def _period_query(
    settings: Any,
    from_: str,
    to: str,
    by: Grouping,
    queue: str | None,
    service_level_seconds: int,
    short_abandon_seconds: int,
    week_starts: str,
) -> PeriodQuery:
    start, end = _period(from_, to, settings, most_days=800)
    return PeriodQuery(
        start=start,
        end=end,
        by=by,
        tz=settings.time_zone,
        queue=queue,
        service_level_seconds=service_level_seconds,
        short_abandon_seconds=short_abandon_seconds,
        week_starts=week_starts,
    )


QueueFilter = Annotated[str | None, Query(max_length=80)]
SlQuery = Annotated[int, Query(ge=1, le=600)]
ShortQuery = Annotated[int, Query(ge=0, le=120)]


@router.get("/periods")
async def periods(
    session: SessionDep,
    settings: SettingsDep,
    _: SupervisorUser,
    from_: FromQuery,
    to: ToQuery,
    by: Grouping = "day",
    queue: QueueFilter = None,
    service_level_seconds: SlQuery = 20,
    short_abandon_seconds: ShortQuery = 5,
    week_starts: Literal["saturday", "monday"] = "saturday",
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Inbound calls per day, week, Jalali month (`jalali_month`, keys like 1405-01) or
    Gregorian month, in the configured time zone; the whole period's figures next to the
    period just before it (as long), with the changes. CSV: the groups, then the total and
    the previous period's."""
    q = _period_query(
        settings, from_, to, by, queue, service_level_seconds, short_abandon_seconds, week_starts
    )
    report = await PeriodService(session).report(q)
    if format == "json":
        return report
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PERIOD_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(report["groups"])
    writer.writerow({"key": "total", **report["total"]})
    writer.writerow({"key": "previous", **report["previous"]["total"]})
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="periods-{by}.csv"'},
    )


@router.get("/periods/heatmap")
async def periods_heatmap(
    session: SessionDep,
    settings: SettingsDep,
    _: SupervisorUser,
    from_: FromQuery,
    to: ToQuery,
    queue: QueueFilter = None,
) -> dict[str, Any]:
    """Inbound calls answered and abandoned per weekday and hour of the day (local time)."""
    q = _period_query(settings, from_, to, "day", queue, 20, 5, "saturday")
    return await PeriodService(session).heatmap(q)
