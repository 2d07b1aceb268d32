"""Agents' availability as stored from the PBX's queue events, and what they are shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.service import WRAPUP_REASON, AgentService
from app.config import PbxSettings, Settings
from telephony.members import MemberSnapshot, MemberState
from tests.fixtures.factories import make_user


def conf(settings: Settings, **pbx: object) -> Settings:
    config = PbxSettings(id="main", host="h", username="u", secret=SecretStr("s"), **pbx)
    return settings.model_copy(update={"pbxes": [config]})


def member(interface: str, queue: str = "support", **fields: object) -> MemberState:
    values: dict[str, object] = {
        "pbx": "main",
        "queue": queue,
        "interface": interface,
        "state_interface": interface,
        "member_name": "",
        "membership": "static",
        "paused": False,
        "paused_reason": "",
        "status": 1,
        "in_call": False,
        "removed": False,
        "at": 0.0,
    }
    values.update(fields)
    return MemberState(**values)  # type: ignore[arg-type]


async def test_a_snapshot_then_changes_make_the_agents_status(
    session: AsyncSession, settings: Settings
) -> None:
    settings = conf(settings)
    sara = await make_user(session, devices=["PJSIP/7001"])
    service = AgentService(session, settings)
    assert (await service.status(sara))["state"] == "no_queue"
    snapshot = MemberSnapshot(
        "main", (member("PJSIP/7001"), member("PJSIP/7001", "sales"), member("PJSIP/7002")), 1.0
    )
    messages = await service.apply([], snapshot)
    assert [m["user_id"] for m in messages] == [sara.id]  # nobody holds 7002
    assert (
        messages[0]["kind"] == "agent" and messages[0]["payload"]["status"]["state"] == "available"
    )

    await service.apply([member("PJSIP/7001", paused=True, paused_reason="lunch")], None)
    status = await service.status(sara)
    assert status["state"] == "available" and status["partly_paused"] and not status["paused"]
    await service.apply([member("PJSIP/7001", "sales", paused=True, paused_reason="lunch")], None)
    status = await service.status(sara)
    assert (status["state"], status["paused"], status["reason"]) == ("paused", True, "lunch")
    await service.apply([member("PJSIP/7001", "sales", status=2, in_call=True)], None)
    assert (await service.status(sara))["state"] == "on_call"
    await service.apply([member("PJSIP/7001", "sales", status=5)], None)
    await service.apply([member("PJSIP/7001", status=5)], None)
    assert (await service.status(sara))["state"] == "offline"
    # Removed from one queue; a later snapshot without her makes her queue-less.
    await service.apply([member("PJSIP/7001", "sales", removed=True)], None)
    assert [q["queue"] for q in (await service.status(sara))["queues"]] == ["support"]
    await service.apply([], MemberSnapshot("main", (member("PJSIP/7002"),), 2.0))
    assert (await service.status(sara))["state"] == "no_queue"


async def test_local_members_are_matched_to_their_agent(
    session: AsyncSession, settings: Settings
) -> None:
    settings = conf(settings, member_interface="Local/{extension}@from-queue/n")
    sara = await make_user(session, devices=["PJSIP/7101"])
    service = AgentService(session, settings)
    local = member("Local/7101@from-queue/n", state_interface="hint:7101@ext-local")
    messages = await service.apply([local], None)
    assert [m["user_id"] for m in messages] == [sara.id]
    (action,) = await service.pause_actions(sara, True, "lunch")
    assert action == (
        "main",
        {
            "Action": "QueuePause",
            "Interface": "Local/7101@from-queue/n",
            "Paused": "true",
            "Reason": "lunch",
        },
    )


async def test_after_call_work_starts_and_ends_once(
    session: AsyncSession, settings: Settings
) -> None:
    settings = conf(settings)
    sara = await make_user(session, devices=["PJSIP/7201"])
    service = AgentService(session, settings)
    await service.apply([member("PJSIP/7201"), member("PJSIP/7201", "sales")], None)
    until = datetime.now(UTC) + timedelta(seconds=30)
    actions = await service.start_wrapup("main", "PJSIP/7201", until)
    assert actions == [
        (
            "main",
            {
                "Action": "QueuePause",
                "Interface": "PJSIP/7201",
                "Paused": "true",
                "Reason": WRAPUP_REASON,
            },
        )
    ]
    await service.apply(
        [
            member("PJSIP/7201", q, paused=True, paused_reason=WRAPUP_REASON)
            for q in ("support", "sales")
        ],
        None,
    )
    assert (await service.status(sara))["state"] == "after_call_work"
    assert await service.end_wrapups() == []  # not yet
    await service.repo.set_wrapup("main", ["PJSIP/7201"], datetime.now(UTC) - timedelta(seconds=1))
    assert await service.end_wrapups() == [
        ("main", {"Action": "QueuePause", "Interface": "PJSIP/7201", "Paused": "false"})
    ]
    assert await service.end_wrapups() == []  # claimed once

    # Paused for lunch: no after-call work over it, and lunch is not ended by a timer.
    await service.apply(
        [member("PJSIP/7201", q, paused=True, paused_reason="lunch") for q in ("support", "sales")],
        None,
    )
    assert await service.start_wrapup("main", "PJSIP/7201", until) == []
