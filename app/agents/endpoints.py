from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status

from app.agents.schemas import AgentStatus, PauseRequest, Requested
from app.agents.service import AgentService
from app.deps import AgentUser, SessionDep, SettingsDep
from app.errors import PbxRefused, PbxUnreachable
from app.models import User
from telephony.actions import ActionFailed, PbxActions, PbxUnavailable

router = APIRouter(prefix="/api/agent", tags=["agent availability"])


async def send_all(request: Request, actions: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each action to its PBX; the first failure is the request's error."""
    clients: PbxActions = request.app.state.actions
    for pbx, action in actions:
        try:
            await clients.get(pbx).send(action)
        except PbxUnavailable as exc:
            raise PbxUnreachable(str(exc)) from None
        except ActionFailed as exc:
            raise PbxRefused(f"the PBX refused {action['Action']}: {exc}") from None


async def _requested(
    request: Request, service: AgentService, user: User, actions: list[tuple[str, dict[str, Any]]]
) -> Requested:
    await send_all(request, actions)
    return Requested(actions=len(actions), status=AgentStatus(**await service.status(user)))


@router.get("/options")
async def panel_options(settings: SettingsDep, _: AgentUser) -> dict[str, Any]:
    """The lists an agent picks from: dispositions and pause reasons; and how many days
    before its end a contract shows as expiring."""
    return {
        "dispositions": list(settings.dispositions),
        "pause_reasons": list(settings.pause_reasons),
        "contract_expiring_days": settings.contract_expiring_days,
        "contract_notice_months": settings.contract_notice_months,
    }


@router.get("/status", response_model=AgentStatus)
async def my_status(session: SessionDep, settings: SettingsDep, user: AgentUser) -> AgentStatus:
    """Your availability as the PBX reports it: paused or not and why, the queues you are in,
    whether your phone is ringing, on a call or unreachable, and the queues you may log in
    to."""
    return AgentStatus(**await AgentService(session, settings).status(user))


@router.post("/pause", status_code=status.HTTP_202_ACCEPTED, response_model=Requested)
async def pause(
    request: Request,
    body: PauseRequest,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> Requested:
    """Pause yourself in all your queues (`QueuePause` with the reason): queue calls stop
    ringing your phone; direct calls still do."""
    service = AgentService(session, settings)
    return await _requested(
        request, service, user, await service.pause_actions(user, True, body.reason)
    )


@router.post("/unpause", status_code=status.HTTP_202_ACCEPTED, response_model=Requested)
async def unpause(
    request: Request, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> Requested:
    """Available again in all your queues (also ends after-call work early)."""
    service = AgentService(session, settings)
    return await _requested(request, service, user, await service.pause_actions(user, False))


@router.post(
    "/queues/{queue}/login", status_code=status.HTTP_202_ACCEPTED, response_model=Requested
)
async def queue_login(
    request: Request,
    queue: Annotated[str, Path(max_length=80, description="the queue name")],
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    pbx: Annotated[str | None, Query(max_length=64)] = None,
) -> Requested:
    """Log in to a queue agents join themselves (`QueueAdd`; the PBX's `login_queues`)."""
    service = AgentService(session, settings)
    return await _requested(
        request, service, user, await service.queue_action(user, pbx, queue, True)
    )


@router.post(
    "/queues/{queue}/logout", status_code=status.HTTP_202_ACCEPTED, response_model=Requested
)
async def queue_logout(
    request: Request,
    queue: Annotated[str, Path(max_length=80, description="the queue name")],
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    pbx: Annotated[str | None, Query(max_length=64)] = None,
) -> Requested:
    """Log out of a queue (`QueueRemove`)."""
    service = AgentService(session, settings)
    return await _requested(
        request, service, user, await service.queue_action(user, pbx, queue, False)
    )
