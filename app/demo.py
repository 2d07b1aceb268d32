"""What ``tamas demo`` adds to a bare Tamas so that a newcomer sees it at work: known
customers (Persian and Latin names, a VIP, contracts running, running out and run out, open
cases) who call in among strangers, traffic that looks like a real day (most calls
answered), and recordings with audio (a generated tone, written where the PBX said it
recorded the call) so that playback works."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import struct
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

from app.config import Settings
from app.customers.repository import CustomerRepository
from app.customers.schemas import CustomerCreate
from app.customers.service import CustomerService
from app.db import Database, unit_of_work
from app.models import Contract
from app.tracking.service import TrackingService
from recordings.repository import RecordingRepository
from recordings.service import storage_for
from recordings.storage import FileConflict, Storage, UnsafePath

logger = logging.getLogger(__name__)

# How often each kind of call comes (the simulator's scenarios): mostly answered, about one
# call in ten missed or abandoned, as on a fairly staffed day.
DEMO_SCENARIOS: dict[str, float] = {
    "queue_answered": 6.0,
    "direct_answered": 4.0,
    "blind_transfer": 1.0,
    "attended_transfer": 0.6,
    "click_to_call": 1.0,
    "queue_abandoned": 0.8,
    "direct_missed": 0.5,
    "direct_busy": 0.3,
    "click_to_call_customer_busy": 0.2,
}
# The share of calls placed by one of the demo's customers (the others: strangers).
KNOWN_SHARE = 0.6


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    number: str  # as the carrier sends it
    company: str = ""
    priority: str | None = None
    tags: tuple[str, ...] = ()
    kind: str = "person"
    contract: str | None = None  # active | expiring | expired
    case: str = ""  # an open case's subject


DEMO_CUSTOMERS = (
    DemoCustomer(
        "علی رضایی",
        "09121234567",
        company="آلفا",
        priority="VIP",
        tags=("عمده‌فروش",),
        contract="active",
        case="ارسال پیش‌فاکتور",
    ),
    DemoCustomer("Sara Johnson", "09351112233", company="Nova Trading", contract="expiring"),
    DemoCustomer(
        "مهدی کاظمی",
        "02188776655",
        company="کاظمی و پسران",
        contract="expired",
        case="خرابی دستگاه",
    ),
    DemoCustomer("Parisa Tehrani", "09191234000", priority="VIP"),
    DemoCustomer("زهرا موسوی", "09361230000", tags=("وفادار",), priority="A"),
    DemoCustomer("Kian Heydari", "+989021112222"),
    DemoCustomer("نرگس صادقی", "03132224444", case="پیگیری بازپرداخت"),
    DemoCustomer("Amir Moradi", "09901239999", company="Pars Net", contract="active"),
    DemoCustomer("شرکت پرتو", "02166554433", kind="organization", contract="expiring"),
    DemoCustomer("Elham Jafari", "00989381114444", priority="B"),
)


def demo_callers() -> list[tuple[str, str]]:
    """(number, caller id name) of the demo's customers, for the simulator to call with."""
    return [(c.number, c.name) for c in DEMO_CUSTOMERS]


def _contract_days(kind: str, today: date) -> tuple[date, date, str]:
    if kind == "expired":
        return today - timedelta(days=385), today - timedelta(days=20), "Silver"
    if kind == "expiring":
        return today - timedelta(days=355), today + timedelta(days=10), "Gold"
    return today - timedelta(days=60), today + timedelta(days=305), "Gold"


async def seed_customers(db: Database, settings: Settings) -> int:
    """The demo's customers, their contracts and open cases (once: those already there are
    left as they are). How many were created."""
    assert db.sessionmaker is not None
    created = 0
    today = settings.today()
    async with unit_of_work(db.sessionmaker) as session:
        customers = CustomerService(session, settings)
        existing = CustomerRepository(session)
        for n, seed in enumerate(DEMO_CUSTOMERS, 1):
            external_id = f"demo-{n}"
            if await existing.get_by_external_id(external_id) is not None:
                continue
            data = CustomerCreate.model_validate(
                {
                    "kind": seed.kind,
                    "name": seed.name,
                    "company": seed.company,
                    "priority": seed.priority,
                    "tags": list(seed.tags),
                    "external_id": external_id,
                    "phones": [{"number": seed.number, "label": "mobile"}],
                }
            )
            customer = await customers.create(data, actor=None)
            if seed.contract:
                starts, ends, level = _contract_days(seed.contract, today)
                session.add(
                    Contract(customer_id=customer.id, level=level, starts_on=starts, ends_on=ends)
                )
            if seed.case:
                await TrackingService(session, settings).issue(
                    by=None, customer_id=customer.id, subject=seed.case
                )
            created += 1
    return created


def tone_wav(seconds: float = 6.0, pitch: float = 440.0, rate: int = 8000) -> bytes:
    """A WAV (8 kHz, 16-bit mono PCM, as Asterisk's MixMonitor writes them) of a tone that
    rises and falls like a voice in turns, written with the standard library."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        turn = 0.5 + 0.5 * math.sin(2 * math.pi * t / 3)  # who is speaking, every 1.5 s
        frequency = pitch * (1 + 0.25 * turn)
        sample = 0.3 * math.sin(2 * math.pi * frequency * t) * (0.4 + 0.6 * turn)
        frames += struct.pack("<h", int(sample * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


class DemoRecordings:
    """Gives every recording the simulated PBX reports a file of audio, where the PBX
    said it wrote it (the simulator records nothing itself). Started after the database
    is open; ``stop()`` cancels it."""

    def __init__(self, settings: Settings, every: float = 2.0) -> None:
        self.settings = settings
        self.every = every
        self.storage: Storage = storage_for(settings)
        self.written = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, db: Database) -> None:
        self._task = asyncio.create_task(self._run(db), name="demo recordings")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, db: Database) -> None:
        after = 0
        while True:
            try:
                after = await self.once(db, after)
            except Exception:
                logger.exception("demo recordings: writing audio failed")
            await asyncio.sleep(self.every)

    async def once(self, db: Database, after: int = 0) -> int:
        """Write the audio of the pending recordings past id ``after``; the last id seen."""
        assert db.sessionmaker is not None
        async with db.sessionmaker() as session:
            rows = await RecordingRepository(session).pending_paths(after, 200)
        for recording_id, reported in rows:
            after = recording_id
            try:
                relative = self.storage.relative(reported)
            except UnsafePath:
                continue
            audio = tone_wav(pitch=330.0 + 20.0 * (recording_id % 8))
            try:
                await self.storage.save(relative, _one(audio), len(audio))
            except FileConflict:
                continue  # already there
            self.written += 1
        return after


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
