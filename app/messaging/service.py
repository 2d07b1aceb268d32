"""Texts to customers: queued in the transaction of their cause (a tracking code issued, a
missed call, a callback taken, a contract ending, an agent's own text), after the checks a
text must pass — its trigger on, the number not opted out, the number's rate limit — and
timed out of quiet hours. The outbox worker (worker.py) sends them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from string import Formatter
from typing import Any

import jdatetime
import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict, InvalidInput, TooManyAttempts
from app.messaging.repository import OutboxRepository
from app.messaging.timing import next_allowed
from app.models import (
    Call,
    Callback,
    Customer,
    CustomerPhone,
    SmsMessage,
    SmsTrigger,
    TrackingCode,
    TrackingCodeCall,
    User,
)
from app.phones import try_parse_phone
from telephony.model import CallEvent

# Each trigger and the variables its templates may use.
TRIGGERS: dict[str, frozenset[str]] = {
    "tracking_code": frozenset({"name", "code", "agent"}),
    "missed_call": frozenset({"name", "number"}),
    "callback_scheduled": frozenset({"name", "agent", "number"}),
    "contract_expiring": frozenset({"name", "date", "level"}),
    "survey_link": frozenset({"name", "agent", "link"}),
    "manual": frozenset(),
}
MISSED = ("missed", "abandoned", "busy")


def template_fields(template: str) -> set[str]:
    """The {fields} a template uses (a malformed one is an InvalidInput)."""
    try:
        return {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise InvalidInput(f"template: {exc}", field="template") from None


def check_template(trigger: str, template: str, field: str) -> None:
    allowed = TRIGGERS[trigger]
    for name in template_fields(template):
        if name not in allowed:
            raise InvalidInput(
                f"{field}: unknown variable {{{name}}} (this trigger has "
                + (", ".join("{" + v + "}" for v in sorted(allowed)) or "none")
                + ")",
                field=field,
                code="template_variable",
            )


def render(template: str, variables: dict[str, str]) -> str:
    return template.format_map({k: variables.get(k, "") for k in template_fields(template)})


class TriggerBook:
    """The triggers as last read, for the call listener's hot path: read again at most
    every ``ttl`` seconds (an admin's change reaches other instances within that), at once
    on this instance after a change here."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._read_at = -1e9
        self._triggers: dict[str, SmsTrigger] = {}

    def forget(self) -> None:
        self._read_at = -1e9

    async def get(self, session: AsyncSession) -> dict[str, SmsTrigger]:
        if time.monotonic() - self._read_at > self.ttl:
            rows = await OutboxRepository(session).triggers()
            self._triggers = {t.trigger: t for t in rows}
            self._read_at = time.monotonic()
        return self._triggers


@dataclass(frozen=True)
class Text:
    trigger: str
    key: str  # names the cause: the same cause is queued once
    number: str  # as given (any form); E.164 is stored
    variables: dict[str, str]
    customer_id: int | None = None
    call_id: int | None = None
    user_id: int | None = None
    body: str | None = None  # an agent's own text (trigger "manual")


class MessagingService:
    def __init__(
        self, session: AsyncSession, settings: Settings, book: TriggerBook | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.repo = OutboxRepository(session)
        self.book = book or TriggerBook(ttl=0)

    def e164(self, number: str) -> str | None:
        parsed = try_parse_phone(
            number, self.settings.default_region, default_area_code=self.settings.default_area_code
        )
        return parsed.e164 if parsed is not None else None

    def mobile(self, number: str) -> str | None:
        """The number in E.164 when a text can reach it (a mobile, not a landline)."""
        e164 = self.e164(number)
        if e164 is None:
            return None
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
        mobile = (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        return e164 if kind in mobile else None

    async def queue(self, text: Text, *, strict: bool = False) -> SmsMessage | None:
        """Queue one text; None when its trigger is off, its number unusable, or its cause
        queued one already. Opted-out and rate-limited texts are stored as cancelled (the
        customer's timeline says why); with ``strict`` (an agent sending) they are refused
        instead."""
        number = self.mobile(text.number)
        if number is None:
            if strict:
                raise InvalidInput("a text can only go to a mobile number", field="number")
            return None
        if text.body is not None:
            body = text.body
        else:
            trigger = (await self.book.get(self.session)).get(text.trigger)
            if trigger is None or not trigger.enabled:
                return None
            template = (
                trigger.template_en if self.settings.sms_language == "en" else trigger.template_fa
            )
            body = render(template or trigger.template_fa, text.variables).strip()
            if not body:
                return None
        now = datetime.now(UTC)
        status, error = "queued", ""
        if await self.repo.opted_out([number]):
            if strict:
                raise Conflict("this number asked for no texts (opted out)", code="opted_out")
            status, error = "cancelled", "opted out"
        elif self.settings.sms_rate_per_number:
            await self.repo.lock_number(number)
            since = now - timedelta(minutes=self.settings.sms_rate_window_minutes)
            if await self.repo.count_recent(number, since) >= self.settings.sms_rate_per_number:
                if strict:
                    raise TooManyAttempts(
                        f"this number had {self.settings.sms_rate_per_number} texts in the last "
                        f"{self.settings.sms_rate_window_minutes} minutes; try later",
                        retry_after=60,
                    )
                status, error = "cancelled", "rate limited"
        return await self.repo.insert(
            {
                "idempotency_key": text.key,
                "number": number,
                "body": body,
                "trigger": text.trigger,
                "customer_id": text.customer_id,
                "call_id": text.call_id,
                "sent_by_user_id": text.user_id,
                "status": status,
                "last_error": error,
                "next_attempt_at": next_allowed(
                    now, self.settings.sms_quiet_hours, self.settings.time_zone
                ),
            }
        )

    async def enabled(self, trigger: str) -> bool:
        found = (await self.book.get(self.session)).get(trigger)
        return found is not None and found.enabled

    # -- causes ------------------------------------------------------------------------------

    async def _customer(self, customer_id: int | None) -> tuple[str, str]:
        """The customer's name and the first of its numbers a text can reach."""
        if customer_id is None:
            return "", ""
        stmt = (
            select(Customer.name, CustomerPhone.e164)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id, isouter=True)
            .where(Customer.id == customer_id)
            .order_by(CustomerPhone.id)
        )
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            return "", ""
        return rows[0][0], self.first_mobile([e for _, e in rows if e])

    def first_mobile(self, numbers: Sequence[str]) -> str:
        return next((n for n in numbers if self.mobile(n)), "")

    async def _user_name(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        user = await self.session.get(User, user_id)
        return (user.full_name or user.username) if user else ""

    async def tracking_issued(self, codes: Sequence[TrackingCode]) -> int:
        """Each code's number to its customer: the customer's mobile, or the number of the
        code's call."""
        if not codes or not await self.enabled("tracking_code"):
            return 0
        queued = 0
        for code in codes:
            name, number = await self._customer(code.customer_id)
            call_id = await self._first_call(code.id)
            if not number and call_id is not None:
                call = await self.session.get(Call, call_id)
                number = (call.customer_e164 or "") if call else ""
            if not number:
                continue
            found = await self.queue(
                Text(
                    "tracking_code",
                    f"tracking_code:{code.id}",
                    number,
                    {
                        "name": name,
                        "code": code.code,
                        "agent": await self._user_name(code.owner_user_id),
                    },
                    customer_id=code.customer_id,
                    call_id=call_id,
                )
            )
            queued += found is not None
        return queued

    async def _first_call(self, code_id: int) -> int | None:
        stmt = (
            select(TrackingCodeCall.call_id)
            .where(TrackingCodeCall.tracking_code_id == code_id)
            .order_by(TrackingCodeCall.linked_at)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def after_calls(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> int:
        """From the listener's batch (in its transaction): a text for every inbound call
        that ended unanswered, and for the codes issued automatically to answered ones."""
        triggers = await self.book.get(self.session)
        missed_on = "missed_call" in triggers and triggers["missed_call"].enabled
        codes_on = "tracking_code" in triggers and triggers["tracking_code"].enabled
        if not missed_on and not codes_on:
            return 0
        queued = 0
        answered: list[int] = []
        for event in events:
            call = event.call
            key = (event.pbx, call.linkedid)
            if key not in call_ids or call.direction != "inbound":
                continue
            if (
                missed_on
                and event.kind == "ended"
                and call.outcome in MISSED
                and call.customer_e164
            ):
                holder = await self._holder(call.customer_e164)
                found = await self.queue(
                    Text(
                        "missed_call",
                        f"missed_call:{call_ids[key]}",
                        call.customer_e164,
                        {"name": holder[1], "number": call.customer_number},
                        customer_id=holder[0],
                        call_id=call_ids[key],
                    )
                )
                queued += found is not None
            elif codes_on and event.kind == "answered":
                answered.append(call_ids[key])
        if answered:
            stmt = (
                select(TrackingCode)
                .join(TrackingCodeCall, TrackingCodeCall.tracking_code_id == TrackingCode.id)
                .where(TrackingCodeCall.call_id.in_(answered), TrackingCode.automatic)
            )
            codes = list((await self.session.execute(stmt)).scalars())
            queued += await self.tracking_issued(codes)
        return queued

    async def _holder(self, e164: str) -> tuple[int | None, str]:
        stmt = (
            select(Customer.id, Customer.name)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
            .where(CustomerPhone.e164 == e164)
            .order_by(Customer.id)
            .limit(1)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else (None, "")

    async def callback_claimed(self, callback: Callback, agent: User) -> SmsMessage | None:
        if callback.claimed_at is None or not await self.enabled("callback_scheduled"):
            return None
        number = callback.e164 or callback.number
        holder = await self._holder(callback.e164) if callback.e164 else (None, "")
        return await self.queue(
            Text(
                "callback_scheduled",
                # A callback released and claimed again is told again.
                f"callback:{callback.id}:{callback.claimed_at.timestamp():.0f}",
                number,
                {
                    "name": holder[1],
                    "agent": agent.full_name or agent.username,
                    "number": callback.number,
                },
                customer_id=holder[0],
                call_id=callback.last_call_id,
            )
        )

    async def contracts_expiring(self, today: date) -> int:
        """Texts for contracts whose last day is sms_contract_days_before days away (each
        contract and end date once, whichever instance and sweep finds it first)."""
        if not await self.enabled("contract_expiring"):
            return 0
        ends = today + timedelta(days=self.settings.sms_contract_days_before)
        queued = 0
        for (
            contract_id,
            customer_id,
            name,
            ends_on,
            level,
            phones,
        ) in await self.repo.contracts_ending(ends):
            phone = self.first_mobile(phones)
            if not phone:
                continue
            shown = (
                jdatetime.date.fromgregorian(date=ends_on).strftime("%Y/%m/%d")
                if self.settings.sms_language == "fa"
                else ends_on.isoformat()
            )
            found = await self.queue(
                Text(
                    "contract_expiring",
                    f"contract_expiring:{contract_id}:{ends_on.isoformat()}",
                    phone,
                    {"name": name, "date": shown, "level": level},
                    customer_id=customer_id,
                )
            )
            queued += found is not None
        return queued

    async def manual(
        self,
        user: User,
        *,
        body: str,
        number: str | None,
        customer_id: int | None,
        call_id: int | None,
        key: str,
    ) -> SmsMessage:
        if number is None:
            _, number = await self._customer(customer_id)
            if not number:
                raise InvalidInput("this customer has no number to text", field="number")
        found = await self.queue(
            Text(
                "manual",
                key,
                number,
                {},
                customer_id=customer_id,
                call_id=call_id,
                user_id=user.id,
                body=body,
            ),
            strict=True,
        )
        if found is None:
            raise Conflict("a text with this Idempotency-Key was sent already", code="duplicate")
        return found

    async def opt_out(self, number: str, reason: str, user_id: int | None) -> Any:
        e164 = self.e164(number)
        if e164 is None:
            raise InvalidInput("not a phone number", field="number")
        row = await self.repo.add_opt_out(e164, reason, user_id)
        await self.repo.cancel_queued_to(e164, "opted out")
        return row
