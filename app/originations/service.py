"""Click-to-call: checking and preparing an Originate, and following it to its end.

The edge (``endpoints.py``) commits the prepared origination, sends the Originate over the
instance's action connection, and records a refusal. What happens next arrives with the PBX's
events on the instance that follows the PBX: :meth:`OriginationService.track` runs inside the
transaction that stores those calls (``telephony.handlers``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from app.models import Origination, Role, User, UserDevice
from app.originations.repository import OriginationRepository
from app.phones import InvalidPhoneNumber, digits_of, parse_phone
from app.textnorm import to_latin_digits
from telephony.model import NUMBER_VARIABLE, ORIGINATION_VARIABLE, CallEvent, OriginateOutcome
from telephony.originate import FAILURES, failure_of_call, failure_of_response

# An internal extension: a few digits, nothing else.
_EXTENSION = re.compile(r"^\d{2,6}$")
_CALLERID_UNSAFE = re.compile(r'["<>\\\r\n,;]')

# A call "live" for longer than this is a leftover whose end was never seen: not a call the
# agent is on (as on the wallboard).
STALE_CALL = timedelta(hours=12)

STATE_OF_EVENT = {"originating": "agent_ringing", "dialling": "dialling", "answered": "connected"}
FINAL = ("ended", "failed")


class NoPbx(DomainError):
    status_code = 503
    code = "no_pbx"


@dataclass(frozen=True)
class Target:
    number: str
    dialled: str
    e164: str | None
    internal: bool


def failure_text(code: str) -> str:
    return FAILURES.get(code, code)


class OriginationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = OriginationRepository(session)

    # -- placing a call ----------------------------------------------------------------------

    async def prepare(
        self,
        user: User,
        number: str,
        *,
        customer_id: int | None = None,
        device: str | None = None,
        pbx: str | None = None,
        confirm: bool = False,
    ) -> tuple[Origination, dict[str, Any]]:
        """Check everything, store the origination (state ``requested``) and return it with
        the AMI Originate action to send once it is committed. While the agent is on a call
        or another of their click-to-calls is still ringing, only with ``confirm``."""
        config = self._pbx(pbx)
        owner, device = await self._device(user, device)
        target = self.target(number, config)
        await self._rate_limit(owner)
        if not confirm:
            await self._one_at_a_time(owner, config)
        name = ""
        if customer_id is not None:
            customer = await self.repo.customer(customer_id)
            if customer is None:
                raise NotFound("no such customer", field="customer_id")
            name = customer.name
        origination = await self.repo.add(
            Origination(
                ref=f"tamas-{secrets.token_hex(10)}",
                user_id=owner.id,
                pbx=config.id,
                device=device,
                number=number.strip()[:80],
                dialled=target.dialled,
                e164=target.e164,
                customer_id=customer_id,
            )
        )
        return origination, self.action(origination, config, owner, name)

    def action(
        self, origination: Origination, config: PbxSettings, user: User, customer_name: str
    ) -> dict[str, Any]:
        """The Originate: the agent's device rings first; when it answers, the dialplan
        context dials the customer. The variables tag every leg (``__`` makes them
        inherited), so the call is matched back to this origination, agent and customer."""
        shown = _CALLERID_UNSAFE.sub(" ", customer_name).strip()[:40]
        variables = [
            f"__{ORIGINATION_VARIABLE}={origination.ref}",
            f"__{NUMBER_VARIABLE}={origination.dialled}",
            f"__TAMAS_USER={user.id}",
        ]
        if origination.customer_id is not None:
            variables.append(f"__TAMAS_CUSTOMER={origination.customer_id}")
        return {
            "Action": "Originate",
            "ActionID": origination.ref,
            "Channel": origination.device,
            "Context": config.originate_context,
            "Exten": origination.dialled,
            "Priority": "1",
            "Timeout": str(config.originate_ring_seconds * 1000),
            "CallerID": f'"{shown}" <{origination.dialled}>' if shown else origination.dialled,
            "Async": "true",
            "Variable": variables,
        }

    def target(self, number: str, config: PbxSettings) -> Target:
        """What to dial for ``number``, or :class:`InvalidInput` saying why it may not be."""
        compact = re.sub(r"[\s\-().]", "", to_latin_digits(number.strip()))
        if _EXTENSION.match(compact):
            return Target(number=number, dialled=compact, e164=None, internal=True)
        settings = self.settings
        try:
            parsed = parse_phone(
                number, settings.default_region, default_area_code=settings.default_area_code
            )
        except InvalidPhoneNumber as exc:
            raise InvalidInput(str(exc), field="number", code="number_invalid") from None
        for prefix in settings.dial_deny_prefixes:
            if parsed.e164.startswith(prefix):
                raise InvalidInput(
                    f"numbers starting {prefix} may not be dialled from Tamas",
                    field="number",
                    code="number_denied",
                )
        if settings.dial_block_premium and parsed.number_type == "premium_rate":
            raise InvalidInput(
                "premium-rate numbers may not be dialled", field="number", code="number_premium"
            )
        home = parsed.region == settings.default_region
        if not home and not settings.dial_allow_international:
            raise InvalidInput(
                "calls abroad are not allowed from Tamas", field="number", code="number_abroad"
            )
        e164_digits = parsed.e164[1:]
        international = "00" + e164_digits
        national = digits_of(parsed.national()) if home else international
        dialled = config.dial_template.format(
            national=national,
            e164=parsed.e164,
            e164_digits=e164_digits,
            international=international,
        )
        return Target(number=number, dialled=dialled, e164=parsed.e164, internal=False)

    def _pbx(self, pbx: str | None) -> PbxSettings:
        configs = {p.id: p for p in self.settings.pbxes}
        if not configs:
            raise NoPbx("no PBX is configured: click-to-call needs one (TAMAS_PBXES)")
        if pbx is None:
            if len(configs) > 1:
                raise InvalidInput("several PBXes are set up: say which one", field="pbx")
            return next(iter(configs.values()))
        if pbx not in configs:
            raise InvalidInput(f"no PBX {pbx!r} is set up", field="pbx")
        return configs[pbx]

    async def _device(self, user: User, device: str | None) -> tuple[User, str]:
        own = [d.device for d in user.devices]
        if device is None:
            if not own:
                raise InvalidInput(
                    "you have no phone set up in Tamas: ask an admin to add your device",
                    field="device",
                )
            return user, own[0]
        if device in own:
            return user, device
        if user.role == Role.admin.value:
            stmt = (
                select(UserDevice.device, User)
                .join(User)
                .where(UserDevice.device == device, User.is_active.is_(True))
            )
            row = (await self.session.execute(stmt)).first()
            if row is None:
                raise InvalidInput(f"no active user has the device {device}", field="device")
            return row[1], device
        raise PermissionDenied("you may dial only from your own devices")

    async def _rate_limit(self, user: User) -> None:
        now = datetime.now(UTC)
        limit = self.settings.originate_per_minute
        count, oldest = await self.repo.count_since(user.id, now - timedelta(minutes=1))
        if count >= limit:
            wait = 1 if oldest is None else max(1, int(60 - (now - oldest).total_seconds()) + 1)
            raise TooManyAttempts(
                f"at most {limit} click-to-calls a minute; try again in {wait} s",
                retry_after=wait,
            )

    async def _one_at_a_time(self, user: User, config: PbxSettings) -> None:
        """One call at a time: a click repeated, or a click while talking, is a mistake far
        more often than it is meant (six calls to one customer at once)."""
        now = datetime.now(UTC)
        # Past the agent's and the customer's ring times, a request the PBX never reported
        # on is over.
        window = timedelta(seconds=2 * config.originate_ring_seconds + 60)
        pending = await self.repo.pending(user.id, now - window)
        if pending is not None:
            raise Conflict(
                f"your call to {pending.number} is still being placed: confirm to place "
                "another one",
                code="origination_pending",
            )
        if await self.repo.live_call_of(user.id, now - STALE_CALL) is not None:
            raise Conflict("you are on a call: confirm to place another one", code="on_a_call")

    async def refused(self, origination_id: int, failure: str, detail: str) -> Origination:
        """The PBX could not be reached or refused the Originate."""
        origination = await self.repo.get(origination_id)
        assert origination is not None
        origination.state = "failed"
        origination.failure = failure
        origination.detail = detail[:300]
        await self.session.flush()
        return origination

    async def get(self, user: User, origination_id: int) -> Origination:
        origination = await self.repo.get(origination_id)
        if origination is None or (
            origination.user_id != user.id and user.role == Role.agent.value
        ):
            raise NotFound("no such click-to-call")
        return origination

    # -- following it ------------------------------------------------------------------------

    async def track(
        self,
        events: Sequence[CallEvent],
        outcomes: Sequence[OriginateOutcome],
        call_ids: dict[tuple[str, str], int],
    ) -> list[Origination]:
        """Bring the originations these events are about up to date. Returns those that
        failed before any call existed (the agent's device could not even ring): nothing
        else tells their agent."""
        refs = {e.call.origination for e in events if e.call.origination}
        refs |= {o.action_id for o in outcomes}
        found = await self.repo.by_refs(sorted(refs))
        if not found:
            return []
        for event in events:
            origination = found.get(event.call.origination)
            if origination is None or origination.pbx != event.pbx:
                continue
            call = event.call
            origination.linkedid = call.linkedid
            origination.call_id = call_ids.get((call.pbx, call.linkedid), origination.call_id)
            if event.kind == "ended":
                failure = failure_of_call(call)
                origination.state = "failed" if failure else "ended"
                origination.failure = failure
            elif event.kind in STATE_OF_EVENT and origination.state not in FINAL:
                origination.state = STATE_OF_EVENT[event.kind]
        lonely: list[Origination] = []
        for outcome in outcomes:
            origination = found.get(outcome.action_id)
            if origination is None or origination.pbx != outcome.pbx:
                continue
            failure = failure_of_response(outcome)
            if failure and origination.state == "requested":
                origination.state = "failed"
                origination.failure = failure
                lonely.append(origination)
        await self.session.flush()
        return lonely
