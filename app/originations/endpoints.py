from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.callbacks.service import CallbackService
from app.db import unit_of_work
from app.deps import AgentUser, SessionDep, SessionmakerDep, SettingsDep
from app.errors import DomainError, PbxRefused, PbxUnreachable
from app.models import Origination
from app.originations.schemas import OriginateRequest, OriginationRead
from app.originations.service import OriginationService, failure_text
from app.schemas import DbId
from telephony.actions import ActionFailed, PbxActions, PbxUnavailable

router = APIRouter(prefix="/api/originations", tags=["click-to-call"])


def _read(origination: Origination) -> OriginationRead:
    read = OriginationRead.model_validate(origination)
    read.failure_text = failure_text(origination.failure) if origination.failure else ""
    return read


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OriginationRead,
    responses={
        403: {"description": "the device is not yours"},
        409: {
            "description": "you are on a call (`on_a_call`) or another click-to-call of yours "
            "is still ringing (`origination_pending`): send `confirm` to place it anyway"
        },
        422: {"description": "the number may not or cannot be dialled"},
        429: {"description": "too many click-to-calls this minute (Retry-After)"},
        502: {"description": "the PBX refused the Originate"},
        503: {"description": "no PBX, or the PBX cannot be reached"},
    },
)
async def originate(
    request: Request,
    body: OriginateRequest,
    user: AgentUser,
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
) -> OriginationRead:
    """Click-to-call: your own phone rings first; when you answer, the PBX dials the number.

    The number is checked (valid, not denied, not premium-rate, not abroad unless allowed)
    and at most `originate_per_minute` calls a minute are placed per user. One call at a
    time: while you are on a call, or another click-to-call of yours is still ringing, it is
    refused (409) unless `confirm` is set. The answer comes
    at once with state `requested`; the progress (`agent_ringing`, `dialling`, `connected`,
    `ended`, or `failed` with a reason) is pushed to your panel's websocket as pops carrying
    this `ref`, and can be read at `GET /api/originations/{id}`."""
    async with unit_of_work(sessionmaker) as session:
        origination, action = await OriginationService(session, settings).prepare(
            user,
            body.number,
            customer_id=body.customer_id,
            device=body.device,
            pbx=body.pbx,
            confirm=body.confirm,
        )
        if body.callback_id is not None:
            await CallbackService(session, settings).dialling(user, body.callback_id, origination)
    # Committed first: the PBX's first events for this call may come back within
    # milliseconds, to whichever instance follows the PBX, and must find it.
    actions: PbxActions = request.app.state.actions
    failure: DomainError | None = None
    try:
        await actions.get(origination.pbx).send(action)
    except PbxUnavailable as exc:
        failure = PbxUnreachable(str(exc))
    except ActionFailed as exc:
        failure = PbxRefused(f"the PBX refused the call: {exc}")
    if failure is not None:
        async with unit_of_work(sessionmaker) as session:
            await OriginationService(session, settings).refused(
                origination.id, failure.code, failure.message
            )
        raise failure
    return _read(origination)


@router.get("/{origination_id}", response_model=OriginationRead)
async def get_origination(
    origination_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> OriginationRead:
    """A click-to-call's progress. Agents see their own; supervisors and admins all."""
    return _read(await OriginationService(session, settings).get(user, origination_id))
