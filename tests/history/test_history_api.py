"""The supervisors' call history: filters, keyset pagination, what agents see, the CSV
export, reviews that reach the agent."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, CallLeg, PopEvent, Role, TrackingCode
from tests.fixtures.factories import make_customer, make_token, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay

TRACES = (
    "01_direct_answered",
    "02_direct_noanswer",
    "03_direct_busy",
    "04_queue_answered",
    "05_queue_abandoned",
    "06_click_to_call",
    "07_blind_transfer",
    "A1_persian_name_direct_answered",
)


async def seed(app: FastAPI, session: AsyncSession, settings: Settings) -> dict[str, object]:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    reza = await make_user(session, Role.agent, devices=["PJSIP/1002"])
    boss = await make_user(session, Role.supervisor)
    ali = await make_customer(session, settings, "علی رضایی", ("09121234567",))
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    for trace in TRACES:
        _, events = replay(trace)
        await recorder(events)
    token = {
        u.username: {"Authorization": f"Bearer {await make_token(session, settings, u)}"}
        for u in (sara, reza, boss)
    }
    return {"sara": sara, "reza": reza, "boss": boss, "ali": ali, "h": token}


async def ids(client: httpx.AsyncClient, query: str, headers: dict[str, str]) -> list[int]:
    r = await client.get(f"/api/history?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["items"]]


async def test_filters_and_what_agents_see(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    h = s["h"]
    boss = h[s["boss"].username]  # type: ignore[attr-defined]
    calls = (
        (await session.execute(select(Call).order_by(Call.started_at.desc(), Call.id.desc())))
        .scalars()
        .all()
    )
    assert await ids(client, "", boss) == [c.id for c in calls]
    by = lambda pred: [c.id for c in calls if pred(c)]  # noqa: E731
    assert await ids(client, "direction=outbound", boss) == by(lambda c: c.direction == "outbound")
    assert await ids(client, "outcome=missed&outcome=abandoned", boss) == by(
        lambda c: c.outcome in ("missed", "abandoned")
    )
    assert await ids(client, "queue=support", boss) == by(lambda c: c.queue == "support")
    sara = s["sara"]
    assert await ids(client, f"agent={sara.id}", boss) == by(  # type: ignore[attr-defined]
        lambda c: c.answered_by_user_id == sara.id  # type: ignore[attr-defined]
    )
    # Any way of writing the number.
    expected = by(lambda c: c.customer_e164 == "+989121234567")
    assert expected
    for number in ("09121234567", "+98 912 123 4567", "۰۹۱۲۱۲۳۴۵۶۷"):
        assert await ids(client, f"number={number}", boss) == expected
    assert await ids(client, f"customer={s['ali'].id}", boss) == expected  # type: ignore[attr-defined]
    assert await ids(client, "min_talk=1&max_talk=5", boss) == by(
        lambda c: 1 <= c.talk_seconds <= 5
    )
    assert await ids(client, "sort=talk_seconds", boss) == [
        c.id for c in sorted(calls, key=lambda c: (c.talk_seconds, c.id))
    ]
    code = (await session.execute(select(TrackingCode).limit(1))).scalar_one()
    linked = await ids(client, f"tracking_code={code.code}", boss)
    assert len(linked) == 1
    # Days, Gregorian or Jalali, in the configured time zone (the traces were recorded on
    # 2026-11-22 around 11:00 UTC, 14:30 in Tehran).
    assert await ids(client, "from=2026-11-22&to=2026-11-22", boss) == [c.id for c in calls]
    assert await ids(client, "from=1405-09-01&to=1405-09-01", boss) == [c.id for c in calls]
    assert await ids(client, "from=2026-11-23", boss) == []
    r = await client.get("/api/history?from=2026-11-23&to=2026-11-22", headers=boss)
    assert r.status_code == 422
    # Agents see their own calls only (their phone rang), whatever they ask for.
    reza = s["reza"]
    mine = await ids(client, "", h[reza.username])  # type: ignore[attr-defined]
    assert mine and set(mine) < {c.id for c in calls}
    assert set(await ids(client, f"agent={sara.id}", h[reza.username])) <= set(mine)  # type: ignore[attr-defined]


async def test_keyset_pages_cover_everything_once(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    boss = s["h"][s["boss"].username]  # type: ignore[index,attr-defined]
    # Same start for all: the id breaks ties, nothing is skipped or repeated.
    await session.execute(update(Call).values(started_at=datetime(2026, 11, 22, 11, tzinfo=UTC)))
    everything = await ids(client, "limit=200", boss)
    for sort in ("-started_at", "talk_seconds", "-wait_seconds"):
        seen: list[int] = []
        cursor = ""
        while True:
            r = await client.get(f"/api/history?limit=3&sort={sort}{cursor}", headers=boss)
            page = r.json()
            seen += [c["id"] for c in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
    r = await client.get("/api/history?cursor=garbage", headers=boss)
    assert r.status_code == 422


async def test_the_export_opens_in_excel_with_persian_names(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    boss = s["h"][s["boss"].username]  # type: ignore[index,attr-defined]
    r = await client.get("/api/history/export.csv?direction=inbound", headers=boss)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    inbound = (
        (await session.execute(select(Call).where(Call.direction == "inbound"))).scalars().all()
    )
    assert len(body) == len(inbound)
    names = {row[header.index("caller_name")] for row in body}
    assert "علی رضایی" in names or any("\u0600" <= ch <= "\u06ff" for n in names for ch in n)
    agent = s["h"][s["sara"].username]  # type: ignore[index,attr-defined]
    assert (await client.get("/api/history/export.csv", headers=agent)).status_code == 403


async def test_a_review_reaches_the_agent(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    sara = s["sara"]
    call = (
        await session.execute(select(Call).where(Call.answered_by_user_id == sara.id).limit(1))  # type: ignore[attr-defined]
    ).scalar_one()
    boss = s["h"][s["boss"].username]  # type: ignore[index,attr-defined]
    r = await client.post(
        f"/api/calls/{call.id}/reviews", json={"score": 4, "comment": "خوب بود"}, headers=boss
    )
    assert r.status_code == 201, r.text
    pop = (await session.execute(select(PopEvent).where(PopEvent.kind == "review"))).scalar_one()
    assert pop.user_id == sara.id and pop.payload["score"] == 4  # type: ignore[attr-defined]
    mine = await client.get(f"/api/calls/{call.id}/reviews", headers=s["h"][sara.username])  # type: ignore[index,attr-defined]
    assert [x["comment"] for x in mine.json()] == ["خوب بود"]
    reza = s["h"][s["reza"].username]  # type: ignore[index,attr-defined]
    assert (await client.get(f"/api/calls/{call.id}/reviews", headers=reza)).status_code == 404
    assert (
        await client.post(
            f"/api/calls/{call.id}/reviews", json={"score": 5}, headers=s["h"][sara.username]
        )
    ).status_code == 403  # type: ignore[index,attr-defined]
    assert (
        await client.post(f"/api/calls/{call.id}/reviews", json={"score": 9}, headers=boss)
    ).status_code == 422


async def test_agents_see_exactly_the_calls_they_answered_or_that_rang_them(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    h = s["h"]
    calls = (
        (await session.execute(select(Call).order_by(Call.started_at.desc(), Call.id.desc())))
        .scalars()
        .all()
    )
    for agent in (s["sara"], s["reza"]):
        rang = set(
            (
                await session.execute(
                    select(CallLeg.call_id).where(CallLeg.user_id == agent.id)  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        expected = [
            c.id
            for c in calls
            if c.answered_by_user_id == agent.id or c.id in rang  # type: ignore[attr-defined]
        ]
        assert expected
        headers = h[agent.username]  # type: ignore[attr-defined]
        assert await ids(client, "", headers) == expected
        # Page by page, the same calls.
        seen: list[int] = []
        cursor = ""
        while True:
            r = await client.get(f"/api/history?limit=1{cursor}", headers=headers)
            page = r.json()
            seen += [c["id"] for c in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert seen == expected
    # A call only rang a phone (nobody's answer): still the agent's.
    only_rang = [
        c.id
        for c in calls
        if c.answered_by_user_id != s["reza"].id  # type: ignore[attr-defined]
        and c.id in await ids(client, "", h[s["reza"].username])  # type: ignore[attr-defined]
    ]
    assert only_rang


async def test_a_review_given_while_the_agent_was_away_waits_unread(
    app: FastAPI, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    s = await seed(app, session, settings)
    sara = s["sara"]
    h = s["h"]
    call = (
        await session.execute(select(Call).where(Call.answered_by_user_id == sara.id).limit(1))  # type: ignore[attr-defined]
    ).scalar_one()
    boss = h[s["boss"].username]  # type: ignore[index,attr-defined]
    mine = h[sara.username]  # type: ignore[index,attr-defined]
    reza = h[s["reza"].username]  # type: ignore[index,attr-defined]
    ids = []
    for score in (2, 5):
        r = await client.post(
            f"/api/calls/{call.id}/reviews", json={"score": score, "comment": "بله"}, headers=boss
        )
        ids.append(r.json()["id"])
    r = await client.get("/api/reviews/unread", headers=mine)
    assert r.status_code == 200, r.text
    unread = r.json()
    assert [u["review_id"] for u in unread] == ids
    assert unread[0]["score"] == 2 and unread[0]["call_id"] == call.id
    assert unread[0]["by"] == (s["boss"].full_name or s["boss"].username)  # type: ignore[attr-defined]
    assert unread[0]["number_display"] == "0912 123 4567"
    # Someone else's review cannot be marked, nor seen.
    assert (await client.get("/api/reviews/unread", headers=reza)).json() == []
    assert (await client.post(f"/api/reviews/{ids[0]}/seen", headers=reza)).status_code == 404
    assert (await client.post(f"/api/reviews/{ids[0]}/seen", headers=mine)).status_code == 204
    assert (await client.post(f"/api/reviews/{ids[0]}/seen", headers=mine)).status_code == 204
    r = await client.get("/api/reviews/unread", headers=mine)
    assert [u["review_id"] for u in r.json()] == [ids[1]]
