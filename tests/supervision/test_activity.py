"""Agents' activity intervals from member and Agent* events, and the figures made of them:
a hand-made day whose occupancy is worked out by hand; a resync that changes nothing adds
nothing; one that does closes and reopens at its moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AgentActivity, Call
from app.supervision.activity import Interval, Intervals, combined
from app.supervision.activity_service import ActivityService
from telephony.members import AgentSignal, MemberSnapshot, MemberState
from tests.fixtures.factories import make_user

DAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(hours: float, seconds: float = 0) -> float:
    return (DAY + timedelta(hours=hours, seconds=seconds)).timestamp()


def member(
    when: float, interface: str = "PJSIP/7001", queue: str = "support", **fields: object
) -> MemberState:
    values: dict[str, object] = {
        "pbx": "main",
        "queue": queue,
        "interface": interface,
        "state_interface": interface,
        "member_name": "",
        "membership": "dynamic",
        "paused": False,
        "paused_reason": "",
        "status": 1,
        "in_call": False,
        "removed": False,
        "at": when,
    }
    values.update(fields)
    return MemberState(**values)  # type: ignore[arg-type]


def signal(when: float, kind: str, interface: str = "PJSIP/7001") -> AgentSignal:
    return AgentSignal("main", "support", interface, kind, when)


def test_the_agent_state_across_queues() -> None:
    assert combined([]) is None
    assert combined([("pause", "lunch"), ("idle", "")]) == ("idle", "")  # reachable in one
    assert combined([("pause", "lunch"), ("wrapup", "")]) == ("pause", "lunch")
    assert combined([("wrapup", ""), ("unavailable", "")]) == ("wrapup", "")
    assert combined([("unavailable", ""), ("unavailable", "")]) == ("unavailable", "")
    assert combined([("talking", ""), ("ringing", "")]) == ("ringing", "")


def test_a_ring_reported_busy_stays_a_ring_until_answered() -> None:
    intervals = Intervals([])
    intervals.feed(
        [
            member(at(0)),
            signal(at(1), "called"),
            member(at(1, 1), status=3),  # chan_pjsip: BUSY while it rings (recording 04)
            signal(at(1, 5), "connect"),
            member(at(1, 6), status=3),
            signal(at(1, 65), "complete"),
            member(at(1, 66), status=1),
        ]
    )
    track = [(i.state, i.started_at - at(0)) for i in intervals.added if i.queue == "support"]
    assert track == [("idle", 0), ("ringing", 3600), ("talking", 3605), ("idle", 3665)]
    overall = [i.state for i in intervals.added if i.queue == ""]
    assert overall == ["idle", "ringing", "talking", "idle"]


def test_a_resync_keeps_what_did_not_change() -> None:
    stored = [
        Interval("main", "PJSIP/7001", "support", "idle", "", at(0), id=1),
        Interval("main", "PJSIP/7001", "", "idle", "", at(0), id=2),
        Interval("main", "PJSIP/7002", "support", "pause", "lunch", at(0), id=3),
        Interval("main", "PJSIP/7002", "", "pause", "lunch", at(0), id=4),
    ]
    intervals = Intervals(stored)
    # 7001 as it was; 7002 unpaused meanwhile; 7003 joined; nobody else.
    intervals.snapshot(
        MemberSnapshot(
            "main",
            (member(0, "PJSIP/7001"), member(0, "PJSIP/7002"), member(0, "PJSIP/7003")),
            at(2),
        )
    )
    assert [(i.id, i.ended_at) for i in intervals.closed] == [(3, at(2)), (4, at(2))]
    assert sorted((i.interface, i.queue, i.state, i.started_at) for i in intervals.added) == [
        ("PJSIP/7002", "", "idle", at(2)),
        ("PJSIP/7002", "support", "idle", at(2)),
        ("PJSIP/7003", "", "idle", at(2)),
        ("PJSIP/7003", "support", "idle", at(2)),
    ]
    # A later snapshot without 7003: logged out at that moment.
    for n, stored_now in enumerate(intervals.added, 10):
        stored_now.id = n
    later = Intervals(intervals.added)
    later.snapshot(MemberSnapshot("main", (member(0, "PJSIP/7002"),), at(3)))
    assert later.added == []
    gone = sorted((i.interface, i.queue) for i in later.closed if i.ended_at == at(3))
    assert gone == [("PJSIP/7003", ""), ("PJSIP/7003", "support")]


async def test_a_hand_made_day_gives_the_hand_worked_figures(session: AsyncSession) -> None:
    sara = await make_user(session, devices=["PJSIP/7001"])
    service = ActivityService(session)
    batches = [
        [member(at(0), membership="dynamic")],  # 08:00 logs in
        # 09:00 a queue call rings 10 s, 10 min of talk, 2 min of after-call work.
        [signal(at(1), "called"), member(at(1), status=3)],
        [signal(at(1, 10), "connect"), member(at(1, 10), status=3)],
        [signal(at(1, 610), "complete"), member(at(1, 610), status=1)],
        [member(at(1, 610), paused=True, paused_reason="after-call work")],
        [member(at(1, 730))],
        [member(at(4), paused=True, paused_reason="lunch")],  # 12:00 - 13:00 lunch
        [member(at(5))],
        # 14:00 a ring of 15 s nobody answers.
        [signal(at(6), "called"), member(at(6), status=3)],
        [signal(at(6, 15), "no_answer"), member(at(6, 15), status=1)],
        [member(at(7), status=5)],  # 15:00 - 15:30 the phone unreachable
        [member(at(7.5), status=1)],
        [member(at(9), removed=True)],  # 17:00 logs out
    ]
    for n, batch in enumerate(batches):
        members = [m for m in batch if isinstance(m, MemberState)]
        signals = [s for s in batch if isinstance(s, AgentSignal)]
        await service.record(members, None, signals)
        if n == 6:
            # A resync while at lunch: the PBX says what we know, nothing is split.
            before = len((await session.execute(select(AgentActivity))).scalars().all())
            lunch = member(0, paused=True, paused_reason="lunch")
            await service.record([], MemberSnapshot("main", (lunch,), at(4.5)))
            assert len((await session.execute(select(AgentActivity))).scalars().all()) == before
    session.add(
        Call(
            pbx="main",
            linkedid="day-1",
            direction="inbound",
            outcome="answered",
            answered_by_user_id=sara.id,
            started_at=DAY + timedelta(hours=1),
            answered_at=DAY + timedelta(hours=1, seconds=10),
            ended_at=DAY + timedelta(hours=1, seconds=610),
        )
    )
    await session.flush()

    report = await service.report(DAY, DAY + timedelta(hours=9), [sara.id])
    (row,) = report["agents"]
    logged_in = 9 * 3600
    talk, ringing, wrapup, lunch, away = 600, 10 + 15, 120, 3600, 1800
    assert row["logged_in_seconds"] == logged_in
    assert row["talking_seconds"] == talk
    assert row["ringing_seconds"] == ringing
    assert row["wrapup_seconds"] == wrapup
    assert row["pause_seconds"] == lunch and row["pause_by_reason"] == {"lunch": lunch}
    assert row["unavailable_seconds"] == away
    assert row["idle_seconds"] == logged_in - talk - ringing - wrapup - lunch - away
    # Occupancy: (talk + wrap-up) / (logged in - pause); utilisation: over all logged-in.
    assert row["occupancy_pct"] == round(100 * (600 + 120) / (32400 - 3600), 1) == 2.5
    assert row["utilisation_pct"] == round(100 * 720 / 32400, 1) == 2.2
    assert (row["calls_handled"], row["calls_per_hour"], row["missed_rings"]) == (1, 0.11, 1)
    assert report["team"]["logged_in_seconds"] == logged_in

    # A window inside lunch and after it: clipped at both ends.
    part = await service.report(DAY + timedelta(hours=4.5), DAY + timedelta(hours=5.5), [sara.id])
    (row,) = part["agents"]
    assert (row["pause_seconds"], row["idle_seconds"], row["occupancy_pct"]) == (1800, 1800, 0.0)
    timeline = await service.timeline(sara.id, DAY + timedelta(hours=3), DAY + timedelta(hours=6))
    assert [(t["state"], t["reason"], t["seconds"]) for t in timeline] == [
        ("idle", "", 3600.0),
        ("pause", "lunch", 3600.0),
        ("idle", "", 3600.0),
    ]
