"""Texts to customers: an agent's own, the customer's texts (their timeline), the triggers'
templates, opt-outs, and the provider's delivery callback."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request, status
from fastapi.responses import PlainTextResponse

from app.customers.service import CustomerService
from app.deps import AdminUser, AgentUser, SessionDep, SettingsDep, SupervisorUser
from app.errors import InvalidInput, NotAuthenticated, NotFound
from app.messaging.providers import KAVENEGAR_STATES
from app.messaging.schemas import (
    OptOutCreate,
    OptOutRead,
    SmsRead,
    SmsSend,
    TriggerRead,
    TriggerUpdate,
)
from app.messaging.service import TRIGGERS, MessagingService, TriggerBook, check_template
from app.models import SmsMessage, SmsOptOut
from app.schemas import DbId
from recordings.service import RecordingService

router = APIRouter(tags=["sms"])


def _book(request: Request) -> TriggerBook:
    book: TriggerBook = request.app.state.sms_triggers
    return book


def _wake(request: Request) -> None:
    worker = getattr(request.app.state, "sms_worker", None)
    if worker is not None:
        worker.wake()


@router.post("/api/sms", status_code=status.HTTP_201_CREATED, response_model=SmsRead)
async def send_text(
    body: SmsSend,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=100,
            description="The same key twice sends one text (a retried request); 409 then",
        ),
    ] = None,
) -> SmsMessage:
    """Text a customer (your own words): to `number`, or to the customer's first mobile.
    Queued now and sent by the outbox (quiet hours hold it until they end); refused when
    the number opted out (409 `opted_out`) or had too many texts lately (429)."""
    if body.customer_id is not None:
        await CustomerService(session, settings).get(body.customer_id)
    elif body.number is None:
        raise InvalidInput("give a number or a customer", field="number")
    if body.call_id is not None:
        await RecordingService(session, settings).call_for_user(user, body.call_id)
    key = f"manual:{user.id}:{idempotency_key or uuid.uuid4().hex}"
    found = await MessagingService(session, settings, _book(request)).manual(
        user,
        body=body.body,
        number=body.number,
        customer_id=body.customer_id,
        call_id=body.call_id,
        key=key,
    )
    background.add_task(_wake, request)
    return found


@router.get("/api/customers/{customer_id}/sms", response_model=list[SmsRead])
async def customer_texts(
    customer_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    _user: AgentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SmsMessage]:
    """The texts to a customer, newest first, with their state: queued (waiting, maybe for
    quiet hours to end), sending, sent, delivered, failed, cancelled (`last_error` says
    why: opted out, rate limited)."""
    await CustomerService(session, settings).get(customer_id)
    service = MessagingService(session, settings)
    return list(await service.repo.of_customer(customer_id, limit))


@router.get("/api/sms/triggers", response_model=list[TriggerRead])
async def list_triggers(
    session: SessionDep, settings: SettingsDep, _user: SupervisorUser
) -> list[TriggerRead]:
    """What sends a text by itself, on or off, with its Persian and English templates and
    the variables they may use."""
    rows = await MessagingService(session, settings).repo.triggers()
    out = []
    for row in rows:
        item = TriggerRead.model_validate(row)
        item.variables = sorted(TRIGGERS.get(row.trigger, ()))
        out.append(item)
    return out


TriggerName = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$")]


@router.put("/api/sms/triggers/{trigger}", response_model=TriggerRead)
async def put_trigger(
    trigger: TriggerName,
    body: TriggerUpdate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: AdminUser,
) -> TriggerRead:
    """Turn a trigger on or off and set its templates ({name}, {code}... as listed)."""
    if trigger not in TRIGGERS or trigger == "manual":
        raise NotFound(
            f"no trigger {trigger!r} (there are: {', '.join(t for t in TRIGGERS if t != 'manual')})"
        )
    check_template(trigger, body.template_fa, "template_fa")
    check_template(trigger, body.template_en, "template_en")
    if body.enabled and not body.template_fa.strip():
        raise InvalidInput(
            "an enabled trigger needs a Persian template", field="template_fa", code="missing"
        )
    row = await MessagingService(session, settings).repo.put_trigger(
        trigger, body.enabled, body.template_fa, body.template_en
    )
    _book(request).forget()
    item = TriggerRead.model_validate(row)
    item.variables = sorted(TRIGGERS[trigger])
    return item


@router.get("/api/sms/opt-outs", response_model=list[OptOutRead])
async def list_opt_outs(
    session: SessionDep,
    settings: SettingsDep,
    _user: SupervisorUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SmsOptOut]:
    """Numbers that asked for no texts, newest first."""
    return list(await MessagingService(session, settings).repo.opt_outs(limit))


@router.post("/api/sms/opt-outs", status_code=status.HTTP_201_CREATED, response_model=OptOutRead)
async def add_opt_out(
    body: OptOutCreate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> SmsOptOut:
    """The customer asked for no more texts to this number: nothing more is sent to it
    (texts still queued are cancelled)."""
    row: SmsOptOut = await MessagingService(session, settings).opt_out(
        body.number, body.reason, user.id
    )
    return row


@router.delete("/api/sms/opt-outs/{number}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_opt_out(
    number: Annotated[str, Path(max_length=40)],
    session: SessionDep,
    settings: SettingsDep,
    _user: SupervisorUser,
) -> None:
    """The number may get texts again."""
    service = MessagingService(session, settings)
    e164 = service.e164(number)
    if e164 is None or not await service.repo.remove_opt_out(e164):
        raise NotFound("this number has not opted out")


@router.post("/sms/delivery/{provider}", response_class=PlainTextResponse)
async def delivery_report(
    provider: Annotated[str, Path(pattern=r"^(kavenegar|http)$")],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> str:
    """A provider's delivery report (set this address, with `?token=` the value of
    `TAMAS_SMS_CALLBACK_TOKEN`, in the provider's panel). Kavenegar posts `messageid` and
    `status` (its numeric states); the generic one `message_id` and `status` (delivered,
    failed, sent). Form or query parameters."""
    expected = settings.sms_callback_token
    if expected is None or not secrets.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise NotAuthenticated("a delivery report needs the callback token")
    form = (
        dict(await request.form())
        if request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        else {}
    )
    values = {**dict(request.query_params), **{k: str(v) for k, v in form.items()}}
    message_id = values.get("messageid") or values.get("message_id") or ""
    raw = values.get("status", "")
    if not message_id or not raw:
        raise InvalidInput("a report needs the message id and its status", field="status")
    state: str | None
    if provider == "kavenegar":
        state = KAVENEGAR_STATES.get(int(raw)) if raw.isdigit() else None
    else:
        state = {"delivered": "delivered", "failed": "failed", "undelivered": "failed",
                 "sent": "sent"}.get(raw.lower())  # fmt: skip
    if state is None:
        raise InvalidInput(f"unknown status {raw!r}", field="status")
    changed = await MessagingService(session, settings).repo.report(provider, {message_id: state})
    return "ok" if changed else "unknown"
