"""The caller lookup on a real Asterisk (L10: a VIP, L11: a customer whose contract has
ended). What Tamas answers for such a customer is what the PBX got in the trace, the PBX
took the route [tamas-inbound] gives for that answer, and the agents' screen-pops name the
customer as the lookup did."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.contracts.schemas import ContractIn
from app.models import Call, Contract, PopEvent, Role, TrackingCode
from tests.fixtures.factories import make_customer, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay, trace_events
from tests.telephony.traces import trace_facts

PBX_TOKEN = "pbx-token-for-the-live-lookup-tests"
AUTH = {"Authorization": f"Bearer {PBX_TOKEN}"}


@pytest.fixture
def conf(app: FastAPI, settings: Settings) -> Iterator[Settings]:
    pbx = PbxSettings(
        id="pbx1", host="127.0.0.1", port=1, username="u", secret=SecretStr("s"),
        token=SecretStr(PBX_TOKEN),
    )  # fmt: skip
    conf = settings.model_copy(update={"pbxes": [pbx]})
    app.state.settings = conf
    yield conf
    app.state.settings = settings


def lookup_answer(name: str) -> list[str]:
    """The values the PBX set from Tamas's answer: the lookup's Set(HASH(tamas)=...), as
    CURLOPT(hashcompat) substitutes it (the values in the answer's order)."""
    [step] = [
        e
        for e in trace_events(name)
        if e.name == "Newexten" and e.get("AppData").startswith("HASH(tamas)=")
    ]
    return step.get("AppData").removeprefix("HASH(tamas)=").split(",")


def route(name: str) -> list[tuple[str, str]]:
    """The caller's steps in [tamas-destinations]: (extension, application data)."""
    return [
        (e.get("Extension"), e.get("AppData"))
        for e in trace_events(name)
        if e.name == "Newexten" and e.get("Context") == "tamas-destinations"
    ]


@pytest.mark.parametrize(
    ("name", "vip", "expired", "agent", "queue"),
    [
        ("L10_lookup_vip", True, False, "PJSIP/1002", "support-vip"),
        ("L11_lookup_expired", False, True, "PJSIP/1003", "sales"),
    ],
)
async def test_a_known_caller_on_a_real_asterisk(
    app: FastAPI,
    session: AsyncSession,
    conf: Settings,
    client: httpx.AsyncClient,
    name: str,
    vip: bool,
    expired: bool,
    agent: str,
    queue: str,
) -> None:
    facts = trace_facts(name)
    truth = facts["crm_call_log"]
    sent = lookup_answer(name)
    # The customer as the live run created them (phones.py's known_customer).
    fields: dict[str, object] = {"priority": "VIP", "company": "Tehran Steel"} if vip else {}
    customer = await make_customer(
        session, conf, truth["caller_name"], (facts["caller"],), **fields
    )
    if expired:
        # Ended before the day of the call, as the live one did; whatever today is.
        called_on = datetime.fromtimestamp(facts["ami_login_time"], ZoneInfo(conf.time_zone))
        assert date.fromisoformat(sent[10]) < called_on.date()
        ends = conf.today() - timedelta(days=30)
        body = ContractIn(level=sent[9], starts_on=ends - timedelta(days=364), ends_on=ends)
        session.add(Contract(customer_id=customer.id, **body.model_dump()))
        await session.flush()
    r = await client.get(
        f"/pbx/lookup?number={facts['caller']}&did={facts['did']}&format=hash", headers=AUTH
    )
    assert r.status_code == 200, r.text
    answer = parse_qsl(r.text, keep_blank_values=True)
    keys = [k for k, _ in answer]
    mine = dict(answer)
    # Tamas answers now what the PBX got then, but for the ids and the contract's last day.
    assert len(sent) == len(answer)
    for key, value in zip(keys, sent, strict=True):
        if key == "customer_id":
            assert mine[key] == str(customer.id)
        elif key == "contract_ends":
            assert bool(mine[key]) == bool(value) == expired
        else:
            assert mine[key] == value, key
    assert (mine["vip"], mine["contract"]) == (
        "1" if vip else "0",
        "expired" if expired else "none",
    )

    # The route [tamas-inbound] gives for that answer, and the queue stored.
    steps = route(name)
    if vip:
        assert [x for x, _ in steps][:1] == ["vip"]
        assert ("vip", f"{queue},c") in steps
    else:
        assert [x for x, _ in steps][:2] == ["expired", "expired"]
        assert ("expired", "custom/tamas-contract-ended") in steps
        assert ("sales", f"{queue},c") in steps

    # Through the recorder: the call is the customer's, and every agent rung saw their name.
    users = {
        device: await make_user(session, Role.agent, devices=[device])
        for device in ("PJSIP/1001", "PJSIP/1002", "PJSIP/1003")
    }
    _, events = replay(name)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    call = (await session.execute(select(Call))).scalar_one()
    assert (call.queue, call.answered_by, call.caller_name) == (
        queue,
        agent,
        truth["caller_name"],
    )
    pops = (await session.execute(select(PopEvent).where(PopEvent.kind == "pop"))).scalars().all()
    rung = {f"PJSIP/{x}" for x in truth["agents_rung"]}
    assert {p.user_id for p in pops} == {users[d].id for d in rung}
    for pop in pops:
        [card] = pop.payload["customers"]
        assert (card["id"], card["name"]) == (customer.id, truth["caller_name"])
        assert card["contract"]["status"] == ("expired" if expired else "none")
        assert pop.payload["queue"] == queue


def test_the_assigned_agent_rings_first_on_a_real_asterisk() -> None:
    """L13: the lookup named sara (1001) as the customer's agent; [tamas-destinations]
    rang her alone 20 s, unanswered, then the queue, where 1002 answered. The call keeps
    both rings of 1001, the first one unanswered after 20 s; its wait is the whole of it."""
    truth = trace_facts("L13_lookup_assigned")["crm_call_log"]
    assert lookup_answer("L13_lookup_assigned")[11] == "1001"  # agent_extension
    steps = route("L13_lookup_assigned")
    assert steps.index(("agent", "PJSIP/1001,20,g")) < steps.index(("queue", "support,c"))
    _, events = replay("L13_lookup_assigned")
    [call] = [e.call for e in events if e.kind == "ended"]
    first, *others = sorted(call.rings, key=lambda r: r.at)
    assert (first.extension, first.result) == ("1001", "no_answer")
    assert first.ended_at is not None and first.ended_at - first.at == pytest.approx(20.0, abs=0.5)
    assert sorted((r.extension, r.result) for r in others) == [
        ("1001", "cancelled"), ("1002", "answered"), ("1003", "cancelled"),
    ]  # fmt: skip
    assert all(r.at >= first.ended_at for r in others)
    assert call.wait_seconds == pytest.approx(truth["wait_s"], abs=0.5)
    assert (call.queue, call.answered_by) == ("support", "PJSIP/1002")


async def test_a_tracking_code_keyed_in_on_a_real_asterisk(
    app: FastAPI, session: AsyncSession, conf: Settings, client: httpx.AsyncClient
) -> None:
    """L16: the caller keyed the 8 digits of sara's open case at the IVR (the site's DID
    300 into [tamas-tracking]); the PBX asked Tamas, said the code back, played the open
    case's prompt and rang its owner, 1001, who answered. Tamas answers that code now what
    the PBX got then (for the ids), and the call is logged answered by 1001 on DID 300."""
    name = "L16_tracking_ivr"
    facts = trace_facts(name)
    code = facts["crm_call_log"]["tracking_code"]
    steps = [
        (e.get("Application"), e.get("AppData"))
        for e in trace_events(name)
        if e.name == "Newexten" and e.get("Context").startswith("tamas-tracking")
    ]
    assert ("Gosub", f"tamas-tracking-lookup,s,1({code})") in steps  # Read() got all 8
    [answer] = [d for a, d in steps if a == "Set" and d.startswith("HASH(tamas_code)=")]
    sent = answer.removeprefix("HASH(tamas_code)=").split(",")
    at = steps.index(("SayDigits", code))
    assert steps[at + 1] == ("Playback", "custom/tamas-case-open")
    assert ("Dial", "PJSIP/1001,20") in steps[at:]

    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    sara.full_name = "Sara Ahmadi"  # the owner's name is in the answer
    customer = await make_customer(session, conf, "پریسا تهرانی", (facts["caller"],))
    session.add(
        TrackingCode(code=code, customer_id=customer.id, owner_user_id=sara.id, subject="x")
    )
    await session.flush()
    r = await client.get(f"/pbx/tracking?code={code}&format=hash", headers=AUTH)
    assert r.status_code == 200, r.text
    answer_now = parse_qsl(r.text, keep_blank_values=True)
    assert len(answer_now) == len(sent)
    for (key, value), then in zip(answer_now, sent, strict=True):
        assert value == (str(customer.id) if key == "customer_id" else then), key
    assert dict(answer_now)["owner_extension"] == "1001"

    _, events = replay(name)
    await InlineRecorder(app.state.sessionmaker, settings=conf)(events)
    call = (await session.execute(select(Call))).scalar_one()
    assert (call.did, call.answered_by, call.outcome, call.queue) == (
        "300",
        "PJSIP/1001",
        "answered",
        "",
    )
    assert call.talk_seconds == pytest.approx(facts["crm_call_log"]["talk_s"], abs=0.5)
