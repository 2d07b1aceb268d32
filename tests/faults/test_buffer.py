"""The pieces the fault handling rests on, without a socket: what the listener's buffer keeps
while the database is away, and which errors mean "the database is away"."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import Database, create_engine, is_unreachable
from telephony.buffer import HeldEvents, merged
from telephony.members import MemberState
from telephony.model import CallEvent, CallEventKind, CallSnapshot, Extras


def _call(linkedid: str, ended: bool = False) -> CallSnapshot:
    return CallSnapshot(
        pbx="p",
        linkedid=linkedid,
        direction="inbound",
        caller_number="09121234567",
        caller_name="",
        called_number="",
        customer_number="09121234567",
        customer_e164="+989121234567",
        did="",
        queue="",
        rings=(),
        answered_by="",
        transfers=(),
        hold_seconds=0.0,
        started_at=1.0,
        queue_joined_at=None,
        answered_at=None,
        ended_at=2.0 if ended else None,
        wait_seconds=0.0,
        talk_seconds=0.0,
        outcome="missed" if ended else "live",
        hangup_cause="",
        hangup_cause_text="",
        dial_status="",
        hung_up_by="",
        recordings=(),
        legs=(),
    )


_seq = 0


def _event(kind: CallEventKind, linkedid: str, device: str = "") -> CallEvent:
    global _seq
    _seq += 1
    return CallEvent(kind, "p", _seq, _call(linkedid, ended=kind == "ended"), device=device)


def _member(interface: str, paused: bool) -> MemberState:
    return MemberState(
        "p", "support", interface, interface, "", "dynamic", paused, "", 1, False, False, 1.0
    )


def test_without_coalescing_every_event_goes_in_order() -> None:
    held = HeldEvents(100)
    events = [_event("started", "a"), _event("started", "b"), _event("ringing", "a", "PJSIP/1")]
    events += [_event("ringing", "a", "PJSIP/1"), _event("ended", "a")]
    held.add(events, None, coalesce=False)
    got, extras = merged(held.take(1000))
    assert got == events and not extras
    assert held.calls == 2 and held.events == 5


def test_coalescing_keeps_what_an_ended_call_still_needs() -> None:
    held = HeldEvents(100)
    held.add([_event("started", "a"), _event("ringing", "a", "PJSIP/1")], None, coalesce=True)
    held.add([_event("ringing", "a", "PJSIP/1")], None, coalesce=True)  # rang again
    assert [e.kind for e in merged(held.take(1000))[0]] == ["started", "ringing"]
    held.add([_event("answered", "a", "PJSIP/1"), _event("ended", "a")], None, coalesce=True)
    held.add([_event("ringing", "b", "PJSIP/2")], None, coalesce=True)
    got = merged(held.take(1000))[0]
    # Nobody is rung for call a any more; its answer (tracking code) and end stay; call b,
    # still up, keeps its ring.
    assert [(e.call.linkedid, e.kind) for e in got] == [
        ("a", "answered"),
        ("a", "ended"),
        ("b", "ringing"),
    ]
    assert len(held) == 2 and not held.full


def test_the_bound_counts_calls_and_take_never_cuts_a_call() -> None:
    held = HeldEvents(3)
    for linkedid in "abc":
        held.add(
            [_event("started", linkedid), _event("ringing", linkedid, "x")], None, coalesce=True
        )
    assert held.full and held.events == 6
    first = held.take(3)  # a (2 events), then b would pass 3: left for the next take
    assert [u.call for u in first] == [("p", "a")]
    held.release(first)
    assert held.calls == 2 and not held.full


def test_members_keep_their_newest_state_and_a_snapshot_replaces_them() -> None:
    held = HeldEvents(100)
    held.add([], Extras(members=[_member("PJSIP/1", True)]), coalesce=True)
    held.add([], Extras(members=[_member("PJSIP/1", False)]), coalesce=True)
    _, extras = merged(held.take(1000))
    assert [m.paused for m in extras.members] == [False]
    units = held.take(1000)
    held.release(units)
    assert len(held) == 0


async def test_an_unreachable_database_is_told_from_a_failing_statement(
    db: Database, tmp_path: object
) -> None:
    # Nothing listens on this socket: what a stopped server gives.
    nowhere = create_engine(f"postgresql://postgres@/tamas?host={tmp_path}")
    with pytest.raises(Exception) as refused:
        async with nowhere.connect() as conn:
            await conn.execute(text("SELECT 1"))
    await nowhere.dispose()
    assert is_unreachable(refused.value)
    assert db.engine is not None
    for statement in ("SELECT 1/0", "SELECT 'x'::int", "SELECT * FROM no_such_table"):
        with pytest.raises(DBAPIError) as failed:
            async with db.engine.connect() as conn:
                await conn.execute(text(statement))
        assert not is_unreachable(failed.value), statement
