"""The recordings of calls in the agent panel, in a real Chromium: a real WAV file under the
recordings root, the call replayed through the simulated PBX and stored, the background
task finding the file; the agent who took the call plays and downloads it from the customer
card, a colleague sees no player, and recordings with nothing to play say why in words.

Set ``TAMAS_PANEL_SCREENSHOTS`` to a directory to keep screenshots of the page to look at."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Recording, RecordingAudit, User
from telephony.simulator import AmiSimulator
from tests.screenpop.support import eventually, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium

SPOOL = "/var/spool/asterisk/monitor/"
# 01_direct_answered: 1001 (sara) answers; the file the PBX names, as stored under the root.
ANSWERED = "20261122-110020-in-100-09121234567-1795345220.0.wav"
# A1_persian_name_direct_answered: 1001 again, from the same customer; its file never comes.
ABSENT = "20261122-113304-in-100-09121234567-1795347184.0.wav"
TONE_SECONDS = 2.0


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


def tone(path: Path, seconds: float = TONE_SECONDS) -> bytes:
    """A 440 Hz tone as the PBX writes it (8 kHz, 16-bit PCM), finished a while ago (a file
    modified in the last seconds is taken as still being written)."""
    t = np.arange(int(8000 * seconds)) / 8000
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 8000, subtype="PCM_16")
    then = time.time() - 60
    os.utime(path, (then, then))
    return path.read_bytes()


async def recording(db: Database, name: str) -> Recording | None:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        found: Recording | None = await session.scalar(
            select(Recording).where(Recording.reported_path == SPOOL + name)
        )
        return found


async def open_customer(page: Page, name: str) -> None:
    await page.get_by_label("جستجوی نام، شرکت یا شماره").fill(name)
    await page.locator("#results").get_by_role("button", name=name).first.click()
    await expect(page.locator("#customer-body h3")).to_have_text(name)


async def test_the_agent_plays_and_downloads_the_recording_of_a_call_they_took(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    root = tmp_path / "recordings"
    root.mkdir()
    stored = tone(root / ANSWERED)
    conf = instance_settings(settings, db, sim).model_copy(update={"recordings_root": root})
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        await replay(sim, "01_direct_answered")
        await replay(sim, "A1_persian_name_direct_answered")

        async def found() -> bool:
            answered, absent = await recording(db, ANSWERED), await recording(db, ABSENT)
            return (
                answered is not None
                and answered.state == "available"
                and absent is not None
                and absent.attempts >= 1
            )

        await eventually(found)
        answered, absent = await recording(db, ANSWERED), await recording(db, ABSENT)
        assert answered is not None and absent is not None
        assert answered.duration_seconds == pytest.approx(TONE_SECONDS)
        assert absent.state == "pending"
        # A transferred call records again: a second recording of the same call, since
        # deleted by the retention policy.
        async with unit_of_work(db.sessionmaker) as session:
            session.add(
                Recording(
                    call_id=answered.call_id,
                    position=1,
                    pbx="hub-test",
                    reported_path=SPOOL + "20261122-110025-transfer.wav",
                    source="mixmonitor",
                    state="deleted",
                )
            )

        sara = await Panel.open(browser, port)
        page = sara.page
        audio: list[tuple[str, str]] = []  # what the page asked of the audio: (url, Range)
        page.on(
            "request",
            lambda r: (
                audio.append((r.url, r.headers.get("range", "")))
                if "/api/recordings/" in r.url and "/stream-url" not in r.url
                else None
            ),
        )
        await sara.sign_in("sara")
        await open_customer(page, "علی رضایی")
        customer = page.locator("#customer-body")
        await expect(customer.locator("table.history tbody tr")).to_have_count(2)
        first = customer.get_by_role("group", name="ضبط ۱ از ۲، ۰:۰۲")
        await expect(first).to_be_visible()
        await expect(first.locator(".rec-time")).to_have_text("۰:۰۰ / ۰:۰۲")
        second = customer.get_by_role("group", name="ضبط ۲ از ۲")
        await expect(second).to_contain_text("طبق سیاست نگهداری حذف شده است")
        await expect(second.get_by_role("button")).to_have_count(0)
        pending = customer.get_by_role("group", name="ضبط مکالمه")
        await expect(pending).to_contain_text("هنوز از مرکز تلفن نرسیده است")
        await sara.shot("20-recordings")

        # Played from the keyboard: the button, then the position moving along the slider.
        play = first.get_by_role("button", name="پخش ضبط ۱ از ۲")
        await play.focus()
        await page.keyboard.press("Enter")
        pause = first.get_by_role("button", name="مکث ضبط ۱ از ۲")
        await expect(pause).to_be_visible()
        await expect(pause).to_be_focused()
        seek = first.get_by_role("slider", name="جای پخش در ضبط ۱ از ۲")
        await expect(seek).to_have_attribute("aria-valuetext", "۰:۰۱ از ۰:۰۲")
        await sara.shot("21-playing")
        # To the end, and back to "play" at the end.
        await expect(play).to_be_visible(timeout=5_000)
        await expect(seek).to_have_attribute("aria-valuetext", "۰:۰۲ از ۰:۰۲")
        # The slider moves by the keyboard too.
        await seek.focus()
        await page.keyboard.press("Home")
        await expect(seek).to_have_attribute("aria-valuetext", "۰:۰۰ از ۰:۰۲")
        await expect(first.locator(".rec-time")).to_have_text("۰:۰۰ / ۰:۰۲")
        # Played from the signed address by HTTP Range, never through the token API.
        assert audio and all(f"/api/recordings/{answered.id}/stream?" in u for u, _ in audio)
        assert audio[0][1].startswith("bytes=0-")

        async with page.expect_download() as downloading:
            await first.get_by_role("button", name="دانلود ضبط ۱ از ۲").click()
        download = await downloading.value
        assert download.suggested_filename == ANSWERED
        saved = Path(await download.path())
        assert await asyncio.to_thread(saved.read_bytes) == stored

        async with db.sessionmaker() as session:
            sara_id = await session.scalar(select(User.id).where(User.username == "sara"))
            trail = (
                await session.execute(
                    select(RecordingAudit.user_id, RecordingAudit.action)
                    .where(RecordingAudit.recording_id == answered.id)
                    .order_by(RecordingAudit.id)
                )
            ).all()
        assert [tuple(row) for row in trail] == [(sara_id, "listen"), (sara_id, "download")]

        # The one that has not arrived: asked again, it has since been given up on.
        async with unit_of_work(db.sessionmaker) as session:
            await session.execute(
                update(Recording).where(Recording.id == absent.id).values(state="missing")
            )
        await pending.get_by_role("button", name="بررسی دوباره ضبط مکالمه").click()
        await expect(pending).to_contain_text("فایل ضبط پیدا نشد")
        await expect(pending.get_by_role("button")).to_have_count(0)

        # In English: the same players, Latin digits, left to right.
        await page.get_by_role("button", name="English").click()
        first = customer.get_by_role("group", name="Recording 1 of 2, 0:02")
        await expect(first.get_by_role("button", name="Play recording 1 of 2")).to_be_visible()
        await expect(first.locator(".rec-time")).to_have_text("0:00 / 0:02")
        await expect(customer.get_by_role("group", name="Recording 2 of 2")).to_contain_text(
            "Deleted under the retention policy"
        )
        await expect(customer.get_by_role("group", name="Recording", exact=True)).to_contain_text(
            "The recording is missing"
        )
        await sara.shot("22-recordings-english")
        await page.get_by_role("button", name="فارسی").click()

        # A colleague opens the same customer: the calls, but no recording of Sara's.
        reza = await Panel.open(browser, port)
        await reza.sign_in("reza")
        await open_customer(reza.page, "علی رضایی")
        other = reza.page.locator("#customer-body")
        await expect(other.locator("table.history tbody tr")).to_have_count(2)
        await expect(other.locator(".recording")).to_have_count(0)
        await reza.close()
        await sara.close()


async def test_a_long_recording_is_played_and_sought_by_range(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    """Twenty minutes (19 MB) over a slow line: playing starts from the first bytes, and a
    seek near the end asks for the bytes from there, not for the whole file first."""
    assert db.sessionmaker is not None
    await team(db, settings)
    root = tmp_path / "recordings"
    root.mkdir()
    size = len(tone(root / ANSWERED, 1200.0))
    conf = instance_settings(settings, db, sim).model_copy(update={"recordings_root": root})
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        await replay(sim, "01_direct_answered")

        async def found() -> bool:
            answered = await recording(db, ANSWERED)
            return answered is not None and answered.state == "available"

        await eventually(found)
        sara = await Panel.open(browser, port)
        page = sara.page
        ranges: list[int] = []  # where each request for the audio starts

        def asked(request: object) -> None:
            url, headers = request.url, request.headers  # type: ignore[attr-defined]
            if "/stream?" in url and headers.get("range", "").startswith("bytes="):
                ranges.append(int(headers["range"][6:].split("-")[0] or 0))

        page.on("request", asked)
        await sara.sign_in("sara")
        await open_customer(page, "علی رضایی")
        # A slow line (100 kB/s: the file would take three minutes): only the part played
        # arrives, and the seek must ask for its own part.
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": 100_000, "uploadThroughput": -1},
        )
        player = page.locator("#customer-body").get_by_role("group", name="ضبط مکالمه، ۲۰:۰۰")
        await player.get_by_role("button", name="پخش ضبط مکالمه").click()
        await expect(player.get_by_role("button", name="مکث ضبط مکالمه")).to_be_visible()
        seek = player.get_by_role("slider")
        await seek.fill("1150")  # 19:10, far past what has arrived

        async def sought() -> bool:
            return any(start > size // 2 for start in ranges)

        await eventually(sought)
        assert ranges[0] == 0
        await expect(seek).to_have_attribute("aria-valuetext", re.compile("^۱۹:۱"))
        await sara.close()
