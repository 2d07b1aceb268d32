"""The panel keeps its sign-in fresh: with a token good for a few seconds, the agent is
still signed in after several lifetimes, every token refreshed before it expired, and the
pops socket signed in again with each new token (a call still pops). Real Chromium."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, WebSocket, async_playwright, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import AuthToken, User
from app.security import token_digest
from telephony.simulator import AmiSimulator
from tests.screenpop.support import (
    before_first,
    eventually,
    follows,
    instance_settings,
    serving,
    team,
)
from tests.screenpop.test_panel import ARGS, PAUSE, Panel, installed_chromium
from tests.telephony.traces import AMI_DIR

TTL = 4.0  # seconds a token is good for


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_an_agent_stays_signed_in_past_many_token_lifetimes(
    db: Database, sim: AmiSimulator, settings: Settings, browser: Browser
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)
    conf = instance_settings(settings, db, sim).model_copy(update={"token_ttl_hours": TTL / 3600})
    async with serving(conf) as (port, app):
        await eventually(lambda: follows(app))
        sara = await Panel.open(browser, port)
        page = sara.page
        sockets: list[WebSocket] = []
        page.on("websocket", lambda ws: sockets.append(ws))

        async def tokens(since: int = 0) -> list[AuthToken]:
            async with db.sessionmaker() as session:
                stmt = (
                    select(AuthToken)
                    .join(User, User.id == AuthToken.user_id)
                    .where(User.username == "sara", AuthToken.id > since)
                    .order_by(AuthToken.id)
                )
                return list((await session.execute(stmt)).scalars())

        # team() gave sara a token of an hour: only the panel's own sign-ins count.
        before = max(t.id for t in await tokens())
        await sara.sign_in("sara")

        async def three_lifetimes() -> bool:
            rows = await tokens(before)
            return datetime.now(UTC) > rows[0].expires_at + timedelta(seconds=2 * TTL)

        await eventually(three_lifetimes, within=60)
        rows = await tokens(before)
        # Each token was replaced before it expired (revoked by its refresh, never let lapse).
        assert len(rows) >= 4
        for old, new in itertools.pairwise(rows):
            assert old.revoked_at is not None and old.revoked_at < old.expires_at
            assert new.created_at <= old.expires_at
        live = [r for r in rows if r.revoked_at is None]
        assert len(live) == 1
        current = await page.evaluate("sessionStorage.getItem('tamas.token')")
        secret = conf.secret_key.get_secret_value()
        assert token_digest(current, secret) == live[0].token_hash

        # Still signed in, the socket up: signed in again with each new token.
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#signin")).to_be_hidden()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        assert len(sockets) >= len(rows) - 1

        # A call pops on that socket, and its card follows the call to its end.
        name = "01_direct_answered"
        replaying = sim.replay(
            AMI_DIR / f"{name}.ami", pace="max", until=before_first(name, *PAUSE)
        )
        await replaying.wait()
        card = page.locator("#pop-list > li").first
        await expect(card).to_have_attribute("data-state", "ringing")
        replaying.resume()
        await replaying.wait()
        await expect(card).to_have_attribute("data-state", "ended")
        # The REST API answers with the token of the moment (the customer card loads).
        await card.get_by_role("button", name="علی رضایی").click()
        await expect(page.locator("#customer-body h3")).to_have_text("علی رضایی")
        await expect(page.locator("#signin")).to_be_hidden()
        await sara.close()
