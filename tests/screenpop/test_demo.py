"""``tamas demo``'s day: its customers (Persian and Latin, a VIP, contracts running, running
out and run out, open cases) are seeded once and call in among strangers, most calls are
answered, and the recordings the simulated PBX reports get audio that plays."""

from __future__ import annotations

import wave
from io import BytesIO
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, unit_of_work
from app.demo import (
    DEMO_CUSTOMERS,
    DEMO_SCENARIOS,
    KNOWN_SHARE,
    DemoRecordings,
    demo_callers,
    seed_customers,
    tone_wav,
)
from app.models import Call, CallCustomer, Customer, Recording, Role, TrackingCode
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_token, make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving

CALLS = 30


def test_the_tone_is_a_wav_as_asterisk_writes_them() -> None:
    with wave.open(BytesIO(tone_wav(seconds=1.0)), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 8000
        frames = audio.readframes(8000)
    assert max(frames) > 0  # not silence


async def test_the_demo_day(
    db: Database, sim: AmiSimulator, settings: Settings, tmp_path: Path
) -> None:
    assert db.sessionmaker is not None
    async with unit_of_work(db.sessionmaker) as session:
        for agent in sim.agents:
            await make_user(session, Role.agent, devices=[f"PJSIP/{agent.extension}"])
        boss = await make_user(session, Role.supervisor)
        token = await make_token(session, settings, boss)
    root = tmp_path / "recordings"
    root.mkdir()
    conf = instance_settings(settings, db, sim).model_copy(update={"recordings_root": root})
    recordings = DemoRecordings(conf, every=0.1)

    async def customers(database: Database) -> None:
        await seed_customers(database, conf)

    try:
        async with serving(
            conf, on_startup=[customers, recordings.start], on_shutdown=[recordings.stop]
        ) as (port, app):
            await eventually(lambda: follows(app))
            # Seeded once: a second start adds nobody.
            assert await seed_customers(db, conf) == 0
            traffic = sim.generate(
                rate=20.0,
                speed=20.0,
                count=CALLS,
                scenarios=DEMO_SCENARIOS,
                known=demo_callers(),
                known_share=KNOWN_SHARE,
                seed=7,
            )
            await traffic.wait()

            async def stored() -> bool:
                # Every call over (an attended transfer's consultation is a call of its own).
                async with db.sessionmaker() as session:  # type: ignore[union-attr]
                    over = await session.scalar(
                        select(func.count()).select_from(Call).where(Call.outcome != "live")
                    )
                    live = await session.scalar(
                        select(func.count()).select_from(Call).where(Call.outcome == "live")
                    )
                return bool(over and over >= CALLS and not live)

            await eventually(stored, within=60)

            async def playable() -> bool:
                async with db.sessionmaker() as session:  # type: ignore[union-attr]
                    n = await session.scalar(
                        select(func.count())
                        .select_from(Recording)
                        .where(Recording.state == "available")
                    )
                return bool(n)

            await eventually(playable, within=90)

            async with db.sessionmaker() as session:
                calls = list((await session.execute(select(Call))).scalars())
                linked = await session.scalar(
                    select(func.count(func.distinct(CallCustomer.call_id)))
                )
                names = set((await session.execute(select(Customer.name))).scalars())
                ids = list((await session.execute(select(Customer.id))).scalars())
                open_cases = await session.scalar(
                    select(func.count())
                    .select_from(TrackingCode)
                    .where(
                        TrackingCode.status == "open",
                        TrackingCode.subject.in_([c.case for c in DEMO_CUSTOMERS if c.case]),
                    )
                )
                played = await session.scalar(
                    select(Recording.id).where(Recording.state == "available").limit(1)
                )
            assert names == {c.name for c in DEMO_CUSTOMERS}
            assert open_cases == sum(bool(c.case) for c in DEMO_CUSTOMERS)
            # A day as a staffed call center has it: most calls answered.
            answered = sum(c.outcome == "answered" for c in calls)
            assert answered >= 0.7 * len(calls), [c.outcome for c in calls]
            # Known callers pop as the customers they are.
            assert linked and linked >= CALLS // 4

            h = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                found = await client.get("/api/customers?q=علی", headers=h)
                ali = found.json()["items"][0]
                assert ali["priority"] == "VIP"
                statuses = set()
                for cid in ids:
                    r = await client.get(f"/api/customers/{cid}/contract-status", headers=h)
                    statuses.add(r.json()["status"])
                assert {"active", "expiring", "expired", "none"} == statuses
                audio = await client.get(f"/api/recordings/{played}/audio", headers=h)
                assert audio.status_code == 200
                assert audio.content[:4] == b"RIFF"
    finally:
        await recordings.stop()
