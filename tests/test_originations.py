"""Click-to-call rules: what may be dialled, from which device, how often, and the
Originate that goes to the PBX."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.errors import Conflict, InvalidInput, PermissionDenied, TooManyAttempts
from app.models import Call, CallLeg, Origination, Role
from app.originations.service import OriginationService
from tests.fixtures.factories import make_customer, make_token, make_user


def with_pbx(settings: Settings, **pbx: object) -> Settings:
    config = PbxSettings(
        id="main", host="127.0.0.1", port=1, username="tamas", secret=SecretStr("s"), **pbx
    )
    return settings.model_copy(update={"pbxes": [config]})


@pytest.mark.parametrize(
    ("typed", "template", "dialled", "e164"),
    [
        ("۰۹۱۲ ۱۲۳ ۴۵۶۷", "{national}", "09121234567", "+989121234567"),
        ("+98 912 123 4567", "9{national}", "909121234567", "+989121234567"),
        ("0098-21-8888-1234", "{national}", "02188881234", "+982188881234"),
        ("09121234567", "{e164_digits}", "989121234567", "+989121234567"),
        ("09121234567", "{international}", "00989121234567", "+989121234567"),
        ("1002", "9{national}", "1002", None),  # an extension is dialled as it is
    ],
)
def test_what_is_dialled(
    settings: Settings, typed: str, template: str, dialled: str, e164: str | None
) -> None:
    conf = with_pbx(settings, dial_template=template)
    target = OriginationService(None, conf).target(typed, conf.pbxes[0])  # type: ignore[arg-type]
    assert (target.dialled, target.e164) == (dialled, e164)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("0935 111 2233", "+98935"),  # the deny-list
        ("+1 202 555 0123", "abroad"),
        ("12345678901234567", "digits"),
        ("not a number", ""),
    ],
)
def test_what_may_not_be_dialled(settings: Settings, typed: str, why: str) -> None:
    conf = with_pbx(settings).model_copy(update={"dial_deny_prefixes": ["+98935"]})
    with pytest.raises(InvalidInput) as caught:
        OriginationService(None, conf).target(typed, conf.pbxes[0])  # type: ignore[arg-type]
    assert why in caught.value.message
    assert caught.value.field == "number"
    assert caught.value.code.startswith("number_")


def test_abroad_when_allowed_but_never_premium_rate(settings: Settings) -> None:
    conf = with_pbx(settings).model_copy(update={"dial_allow_international": True})
    service = OriginationService(None, conf)  # type: ignore[arg-type]
    assert service.target("+1 202 555 0123", conf.pbxes[0]).dialled == "0012025550123"
    with pytest.raises(InvalidInput, match="premium-rate"):
        service.target("+1 900 234 5678", conf.pbxes[0])
    conf = conf.model_copy(update={"dial_block_premium": False})
    service = OriginationService(None, conf)  # type: ignore[arg-type]
    assert service.target("+1 900 234 5678", conf.pbxes[0]).dialled == "0019002345678"


def test_dial_templates_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        PbxSettings(id="x", host="h", username="u", secret=SecretStr("s"), dial_template="{nope}")
    with pytest.raises(ValueError, match="only digits"):
        PbxSettings(
            id="x", host="h", username="u", secret=SecretStr("s"), dial_template="9{national};"
        )


async def test_the_originate_action(session: AsyncSession, settings: Settings) -> None:
    conf = with_pbx(settings, originate_context="from-internal", originate_ring_seconds=20)
    user = await make_user(session, devices=["PJSIP/1001", "PJSIP/1001b"])
    customer = await make_customer(session, conf, 'شرکت "آلفا" <تهران>', ("09121234567",))
    origination, action = await OriginationService(session, conf).prepare(
        user, "0912 123 4567", customer_id=customer.id
    )
    assert origination.state == "requested" and origination.user_id == user.id
    assert origination.device == "PJSIP/1001"  # the first device by default
    assert action == {
        "Action": "Originate",
        "ActionID": origination.ref,
        "Channel": "PJSIP/1001",
        "Context": "from-internal",
        "Exten": "09121234567",
        "Priority": "1",
        "Timeout": "20000",
        # The agent's phone shows whom it is calling; quotes and brackets cannot break out.
        "CallerID": '"شرکت  آلفا   تهران" <09121234567>',
        "Async": "true",
        "Variable": [
            f"__TAMAS_ORIGINATION={origination.ref}",
            "__TAMAS_NUMBER=09121234567",
            f"__TAMAS_USER={user.id}",
            f"__TAMAS_CUSTOMER={customer.id}",
        ],
    }


async def test_only_from_own_devices(session: AsyncSession, settings: Settings) -> None:
    conf = with_pbx(settings)
    sara = await make_user(session, devices=["PJSIP/1001"])
    reza = await make_user(session, devices=["PJSIP/1002"])
    service = OriginationService(session, conf)
    with pytest.raises(PermissionDenied):
        await service.prepare(sara, "09121234567", device="PJSIP/1002")
    # A supervisor neither.
    boss = await make_user(session, Role.supervisor, devices=["PJSIP/1009"])
    with pytest.raises(PermissionDenied):
        await service.prepare(boss, "09121234567", device="PJSIP/1002")
    # An admin (an integration) may dial on an agent's behalf: the call is the agent's.
    admin = await make_user(session, Role.admin)
    origination, _ = await service.prepare(admin, "09121234567", device="PJSIP/1002")
    assert origination.user_id == reza.id
    nobody = await make_user(session)
    with pytest.raises(InvalidInput, match="no phone"):
        await service.prepare(nobody, "09121234567")


async def test_at_most_n_a_minute(session: AsyncSession, settings: Settings) -> None:
    conf = with_pbx(settings).model_copy(update={"originate_per_minute": 3})
    sara = await make_user(session, devices=["PJSIP/1001"])
    reza = await make_user(session, devices=["PJSIP/1002"])
    service = OriginationService(session, conf)
    for _ in range(3):
        await service.prepare(sara, "09121234567", confirm=True)
    with pytest.raises(TooManyAttempts) as caught:
        await service.prepare(sara, "09121234567")
    assert 1 <= caught.value.retry_after <= 61
    await service.prepare(reza, "09121234567")  # per agent


async def test_one_call_at_a_time_unless_confirmed(
    session: AsyncSession, settings: Settings
) -> None:
    conf = with_pbx(settings)
    sara = await make_user(session, devices=["PJSIP/1001"])
    reza = await make_user(session, devices=["PJSIP/1002"])
    service = OriginationService(session, conf)
    await service.prepare(sara, "09121234567")
    # Clicked again while the first is still ringing: refused, unless confirmed.
    with pytest.raises(Conflict) as caught:
        await service.prepare(sara, "09121234567")
    assert caught.value.code == "origination_pending"
    assert caught.value.status_code == 409
    await service.prepare(sara, "09121234567", confirm=True)
    await service.prepare(reza, "09121234567")  # another agent's calls are theirs

    # Once they are over, the next call is free again.
    await session.execute(
        update(Origination).where(Origination.user_id == sara.id).values(state="ended")
    )
    again, _ = await service.prepare(sara, "09121234567")
    again.state = "failed"
    # On a live call (answered on their phone), the same.
    call = Call(
        pbx="main",
        linkedid="live.1",
        direction="inbound",
        outcome="live",
        started_at=datetime.now(UTC),
        answered_at=datetime.now(UTC),
    )
    session.add(call)
    await session.flush()
    session.add(
        CallLeg(
            call_id=call.id,
            pbx="main",
            uniqueid="live.1.2",
            channel="PJSIP/1001-0001",
            device="PJSIP/1001",
            internal=True,
            user_id=sara.id,
            created_at=datetime.now(UTC),
            answered_at=datetime.now(UTC),
        )
    )
    await session.flush()
    with pytest.raises(Conflict) as caught:
        await service.prepare(sara, "09121234567")
    assert caught.value.code == "on_a_call"
    await service.prepare(sara, "09121234567", confirm=True)
    # A call long over (its end stored) no longer counts.
    call.outcome = "answered"
    await session.execute(
        update(Origination).where(Origination.user_id == sara.id).values(state="ended")
    )
    await session.flush()
    await service.prepare(sara, "09121234567")


async def test_without_a_pbx_the_api_says_so(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session, devices=["PJSIP/1001"])
    headers = {"Authorization": f"Bearer {await make_token(session, settings, user)}"}
    r = await client.post("/api/originations", json={"number": "09121234567"}, headers=headers)
    assert r.status_code == 503, r.text
    assert "no PBX" in r.json()["error"]["message"]
    assert (await client.post("/api/originations", json={"number": "1"})).status_code == 401


@pytest.mark.parametrize("hangup_first", [False, True])
async def test_a_declined_phone_is_told_as_declined_whatever_the_order(
    session: AsyncSession, settings: Settings, hangup_first: bool
) -> None:
    """The agent's phone answered 486: the click-to-call failed because her phone was busy,
    not "your phone is offline" (OriginateResponse Reason 0), with the Hangup before or
    after the OriginateResponse; each event stored as the listener hands it over."""
    from telephony.model import OriginateOutcome
    from telephony.tracker import CallTracker
    from tests.telephony.replay import declined_click_to_call

    conf = with_pbx(settings)
    user = await make_user(session, devices=["PJSIP/1001"])
    service = OriginationService(session, conf)
    origination, _ = await service.prepare(user, "09121234567")
    tracker = CallTracker("main")
    lonely = []
    for event in declined_click_to_call(origination.ref, hangup_first=hangup_first, pbx="main"):
        outcomes = []
        if event.name == "OriginateResponse":
            outcomes.append(
                OriginateOutcome("main", origination.ref, False, "0", "PJSIP/1001", "", event.at)
            )
        calls = tracker.handle(event)
        if calls or outcomes:
            lonely += await service.track(calls, outcomes, {})
    assert (origination.state, origination.failure) == ("failed", "agent_busy")
    assert lonely == []  # the agent is told by the call's own pops, not a second time
