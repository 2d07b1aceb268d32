"""Activity intervals from a recorded queue trace (11_actions_busy: a direct call to 1001, a
queue call 1002 answers, a third caller ringing 1003 who gives up), with a pause made on the
PBX and Tamas restarted in the middle of the stream: the intervals are the ones counted by
hand from the trace, none split or counted twice by the restart's resync."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import AgentActivity
from telephony.simulator import AmiSimulator
from tests.screenpop.support import before_first, eventually, following, instance_settings, team
from tests.telephony.traces import AMI_DIR

TRACE = "11_actions_busy"


async def tracks(db: Database, queue: str) -> dict[str, list[AgentActivity]]:
    assert db.sessionmaker is not None
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(AgentActivity)
                .where(AgentActivity.queue == queue)
                .order_by(AgentActivity.interface, AgentActivity.started_at, AgentActivity.id)
            )
        ).scalars()
        out: dict[str, list[AgentActivity]] = {}
        for row in rows:
            out.setdefault(row.interface, []).append(row)
        return out


def states(rows: list[AgentActivity]) -> list[tuple[str, str]]:
    return [(r.state, r.reason) for r in rows]


async def test_intervals_of_a_recorded_trace_with_a_pause_and_a_restart(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    await team(db, settings)
    conf = instance_settings(settings, db, sim)
    # Before Call C's first channel: 1001 on the direct call (paused for lunch from the
    # phone before it), 1002 talking with the queue caller, 1003 free again.
    middle = before_first(TRACE, "Channel: PJSIP/trunk-0000006d")
    async with following(conf):

        async def idle() -> bool:
            return len(await tracks(db, "support")) == 3

        await eventually(idle)
        sim.pause_member("PJSIP/1001", True, reason="lunch")

        async def paused() -> bool:
            found = (await tracks(db, "support")).get("PJSIP/1001", [])
            return bool(found) and found[-1].state == "pause"

        await eventually(paused)
        replaying = sim.replay(AMI_DIR / f"{TRACE}.ami", pace="max", until=middle)
        await replaying.wait()

        async def talking() -> bool:
            found = (await tracks(db, "support")).get("PJSIP/1002", [])
            return bool(found) and found[-1].state == "talking"

        await eventually(talking)
    before = await tracks(db, "support")
    # A new Tamas: it resyncs from the PBX, which says what was last seen.
    async with following(conf):
        replaying.resume()
        await replaying.wait()

        async def over() -> bool:
            found = await tracks(db, "support")
            return [len(found.get(f"PJSIP/{n}", [])) for n in (1001, 1002, 1003)] == [4, 4, 5]

        await eventually(over)
        # Then 1002 pauses for training from the phone, and comes back.
        sim.pause_member("PJSIP/1002", True, reason="training")

        async def training() -> bool:
            return states((await tracks(db, "support"))["PJSIP/1002"])[-1] == ("pause", "training")

        await eventually(training)
        sim.pause_member("PJSIP/1002", False)

        async def back() -> bool:
            return len((await tracks(db, "support"))["PJSIP/1002"]) == 6

        await eventually(back)
    after = await tracks(db, "support")
    # The restart split nothing: every interval open before it goes on as the same row.
    for interface, rows in before.items():
        assert [r.id for r in after[interface][: len(rows)]] == [r.id for r in rows]
    # By hand, from the trace (see the module docstring):
    assert states(after["PJSIP/1001"]) == [
        ("idle", ""),
        ("pause", "lunch"),
        # The direct call: QueueMemberStatus 3 and no AgentCalled. The recording PBX's
        # events say Paused: 0 (it was not paused there), and the PBX's word is taken.
        ("talking", ""),
        ("idle", ""),
    ]
    assert states(after["PJSIP/1002"]) == [
        ("idle", ""),
        ("ringing", ""),  # AgentCalled; its QueueMemberStatus 3 is the ring
        ("talking", ""),  # AgentConnect
        ("idle", ""),  # AgentComplete
        ("pause", "training"),
        ("idle", ""),
    ]
    assert states(after["PJSIP/1003"]) == [
        ("idle", ""),
        ("ringing", ""),  # call B rings everyone free
        ("idle", ""),  # 1002 took it
        ("ringing", ""),  # call C
        ("idle", ""),  # the caller gave up: not a missed ring of 1003's
    ]
    overall = await tracks(db, "")
    for interface, rows in after.items():
        # One queue each: the agent's own track is the same.
        assert states(overall[interface]) == states(rows)
        # Back to back, the last one still open: nothing counted twice or lost.
        for earlier, later in itertools.pairwise(rows):
            assert earlier.ended_at == later.started_at
        assert rows[-1].ended_at is None and all(r.ended_at for r in rows[:-1])
        assert all(r.user_id is not None for r in rows)
