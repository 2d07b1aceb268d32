"""The queue callback: the request the dialplan's [tamas-callback-request] makes (its CURL()
POST, built from the dialplan's own text) books a callback due now for the queue's agents;
the call the caller then leaves merges into it; an anonymous caller is told it failed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.followups.service import FollowupService
from app.models import Callback, PopEvent, QueueMember, Role
from tests.asterisk_dev.support import CONF, read_dialplan, split_top
from tests.asterisk_dev.test_lookup import auth_header
from tests.fixtures.factories import make_user
from tests.fixtures.pbx import calling_pbx
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay, trace_events

TOKEN = "pbx-token-for-the-queue-callback"


@pytest.fixture
def pbx_settings(app: FastAPI, settings: Settings) -> Iterator[Settings]:
    with calling_pbx(app, settings, "pbx1", TOKEN) as conf:
        yield conf


def curl_request(values: dict[str, str]) -> tuple[str, str]:
    """The URL and the POST data of the dialplan's CURL(url,data), filled in as Asterisk
    would (URIENCODE() encodes every reserved character)."""
    plan = read_dialplan(CONF.read_text())
    (step,) = [s for s in plan.contexts["tamas-callback-request"]["s"] if "CURL(" in s.args]
    inner = split_top(step.args[step.args.index("CURL(") + 5 :], ")")[0]
    url, data = split_top(inner, ",")

    def fill(template: str) -> str:
        template = re.sub(
            r"\$\{URIENCODE\(\$\{(\w+)\}\)\}", lambda m: quote(values[m[1]], safe=""), template
        )
        return re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], template)

    return fill(url), fill(data)


def hashcompat(body: str) -> dict[str, str]:
    return {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in body.split("&"))}


async def test_pressing_1_in_the_queue_books_a_callback_for_its_agents(
    app: FastAPI, session: AsyncSession, pbx_settings: Settings, client: httpx.AsyncClient
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    now = datetime.now(UTC)
    session.add(QueueMember(pbx="pbx1", queue="support", interface="PJSIP/1001", updated_at=now))
    await session.flush()
    # The header [tamas-auth] adds, from the token in Asterisk's environment.
    name, value = auth_header(TOKEN)
    values = {"TAMAS_URL": "http://tamas.test"}
    # 05_queue_abandoned's caller, as the PBX gives the number.
    url, data = curl_request(values | {"ARG1": "09187654321", "ARG2": "support"})
    form = {name: value, "Content-Type": "application/x-www-form-urlencoded"}
    r = await client.post(url, content=data, headers=form)
    got = hashcompat(r.text)
    assert got["booked"] == "1", r.text
    (callback,) = (await session.execute(select(Callback))).scalars().all()
    assert (callback.source, callback.queue, callback.number, callback.e164) == (
        "queue", "support", "09187654321", "+989187654321",
    )  # fmt: skip
    assert got["callback_id"] == str(callback.id) and got["requests"] == "1"
    assert now - timedelta(seconds=5) <= callback.due_at <= datetime.now(UTC)
    # Due now: on the queue's agents' panels.
    assert await FollowupService(session, pbx_settings).fire_due() == 1
    (pop,) = (await session.execute(select(PopEvent))).scalars().all()
    assert (pop.user_id, pop.kind, pop.payload["source"]) == (sara.id, "callback_due", "queue")

    # The call they leave the queue with is one more request on the same callback.
    recorder = InlineRecorder(app.state.sessionmaker, settings=pbx_settings)
    _, abandoned = replay("05_queue_abandoned")
    await recorder(abandoned)
    (callback,) = (await session.execute(select(Callback))).scalars().all()
    await session.refresh(callback)
    assert (callback.attempts, callback.source, callback.status) == (2, "queue", "open")

    # Without a caller id there is nobody to call: booked=0 and the caller is told.
    url, data = curl_request(values | {"ARG1": "anonymous", "ARG2": "support"})
    got = hashcompat((await client.post(url, content=data, headers=form)).text)
    assert got["booked"] == "0" and got["reason"]
    # Without the PBX's token: refused, and nothing in HASH() says booked.
    r = await client.post(url, content=data, headers={"Content-Type": form["Content-Type"]})
    assert r.status_code == 401 and "booked" not in hashcompat(r.text)


async def test_the_key_a_real_asterisk_took_from_the_queue(
    app: FastAPI, session: AsyncSession, pbx_settings: Settings, client: httpx.AsyncClient
) -> None:
    """L14: on a real Asterisk the caller keyed 1 while three phones rang: out of the queue
    into [tamas-queue-callback], the request with their number and queue, booked, the
    booked prompt, and the PBX hung up. The request as the trace gives its arguments books
    the callback; the call, replayed, is missed (nobody served it) and merges into it."""
    events = [
        e
        for e in trace_events("L14_queue_callback")
        if e.name == "Newexten" and e.channel.startswith("PJSIP/customer-")
    ]
    contexts = [e.get("Context") for e in events]
    left = contexts.index("tamas-queue-callback")
    assert events[left - 1].get("Application") == "Queue"  # the key took them out of it
    [gosub] = [e for e in events if e.get("AppData").startswith("tamas-callback-request,s,1(")]
    number, queue = gosub.get("AppData").split("(", 1)[1].rstrip(")").split(",")
    assert (number, queue) == ("09121234567", "support")
    played = [e.get("AppData") for e in events if e.get("Application") == "Playback"]
    assert played == ["custom/tamas-callback-booked"]

    name, value = auth_header(TOKEN)
    url, data = curl_request({"TAMAS_URL": "http://tamas.test", "ARG1": number, "ARG2": queue})
    form = {name: value, "Content-Type": "application/x-www-form-urlencoded"}
    got = hashcompat((await client.post(url, content=data, headers=form)).text)
    assert got["booked"] == "1"
    _, ended = replay("L14_queue_callback", pbx="pbx1")
    await InlineRecorder(app.state.sessionmaker, settings=pbx_settings)(ended)
    (callback,) = (await session.execute(select(Callback))).scalars().all()
    await session.refresh(callback)
    [call] = [e.call for e in ended if e.kind == "ended"]
    assert (call.outcome, call.missed_reason, call.queue, call.hung_up_by) == (
        "missed", "no_answer", "support", "pbx",
    )  # fmt: skip
    assert (callback.source, callback.queue, callback.status) == ("queue", "support", "open")
    assert callback.last_call_id is not None
