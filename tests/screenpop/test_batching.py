"""A batch of call events gets the pops its events would get one at a time: routing reads
the database once per batch, and what it reads must not change who gets what."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Call, PopEvent, Role, TrackingCode
from screenpop.repository import PopRepository, users_by_device
from telephony.handlers import CallRecorder
from tests.fixtures.factories import make_customer, make_user
from tests.telephony.replay import replay

DEVICES = ("PJSIP/1001", "PJSIP/1002", "SIP/1002", "IAX2/10_2", "PJSIP/1003")


async def test_users_by_device_picks_what_the_query_for_those_devices_finds(
    db: Database,
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        for device in DEVICES:
            await make_user(session, Role.agent, devices=[device])
        await make_user(session, Role.agent, devices=["PJSIP/1004"], active=False)
    asked = [
        ["PJSIP/1001"],
        ["1002"],
        ["10_2"],  # LIKE's _ matches any one character
        ["1002", "PJSIP/1003"],
        ["PJSIP/1004", "1004"],
        ["PJSIP/9999", "9999", ""],
        [],
    ]
    async with db.sessionmaker() as session:
        repo = PopRepository(session)
        everything = await repo.device_users([d for devices in asked for d in devices])
        for devices in asked:
            matched = {device for device, _ in await repo.device_users(devices)}
            picked = users_by_device(everything, devices)
            assert {k for k in picked if "/" in k} == matched
            assert all(k.rsplit("/", 1)[-1] in picked for k in matched)
        assert {d for d, _ in await repo.device_users(["10_2"])} == set(DEVICES[1:4])


def _masked(value: Any) -> Any:
    """Tracking codes are drawn at random: compare where they are, not their digits."""
    if isinstance(value, dict):
        return {
            k: ("<code>" if k in ("code", "created_at") else _masked(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _per_agent(pops: list[PopEvent]) -> dict[int, list[tuple[str, str, dict[str, Any]]]]:
    out: dict[int, list[tuple[str, str, dict[str, Any]]]] = {}
    for p in pops:
        payload = _masked(
            {k: v for k, v in p.payload.items() if k not in ("call_id", "last_calls")}
        )
        last = _masked(
            [{k: v for k, v in c.items() if k != "call_id"} for c in p.payload["last_calls"]]
        )
        out.setdefault(p.user_id, []).append((p.linkedid, p.kind, {**payload, "last": last}))
    return out


async def _store(db: Database, batches: list[list[Any]]) -> dict[int, list[Any]]:
    assert db.sessionmaker is not None
    recorder = CallRecorder(db.sessionmaker)
    for batch in batches:
        await recorder(batch)
    async with db.sessionmaker() as session:
        pops = list((await session.execute(select(PopEvent).order_by(PopEvent.id))).scalars())
    async with unit_of_work(db.sessionmaker) as session:
        await session.execute(delete(PopEvent))
        await session.execute(delete(TrackingCode))
        await session.execute(delete(Call))
    return _per_agent(pops)


@pytest.mark.parametrize(
    "trace",
    [
        "A4_persian_name_queue_answered",
        "05_queue_abandoned",
        "07_blind_transfer",
        "08_attended_transfer",
        "06_click_to_call",
    ],
)
async def test_a_batch_pops_as_its_events_one_at_a_time(
    db: Database, settings: Settings, trace: str
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        for ext in ("1001", "1002", "1003"):
            await make_user(session, Role.agent, devices=[f"PJSIP/{ext}"])
        for number in ("09121234567", "09351234567", "09127778899"):
            await make_customer(session, settings, "مشتری", (number,))
    # An earlier call from the same number, so that the pops carry last calls.
    _, earlier = replay("01_direct_answered")
    _, events = replay(trace)
    one_by_one = await _store(db, [earlier, *([e] for e in events)])
    together = await _store(db, [earlier, events])
    assert one_by_one and together == one_by_one
