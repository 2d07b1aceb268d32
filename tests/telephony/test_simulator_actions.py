"""Agent controls on the simulated PBX, through a real socket: QueueAdd/QueueRemove/
QueuePause, and member changes the PBX makes by itself. Expected shapes come from the
recordings and Asterisk 22's app_queue.c."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from telephony.simulator import AmiSimulator
from telephony.simulator.protocol import parse_fields
from telephony.simulator.state import MEMBER_KEYS
from telephony.simulator.trace import Recording
from tests.telephony.test_simulator import SECRET, USER, Client, event, fields

AMI_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
NUMBER = "09121234567"

Fields = list[tuple[str, str]]


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET, speed=None, seed=3) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: AmiSimulator) -> AsyncIterator[Client]:
    connection = await Client.connect(sim.port)
    await connection.login()
    yield connection
    await connection.close()


def pairs(raw: bytes) -> Fields:
    return parse_fields(raw)


async def collect(client: Client, last: Callable[[bytes], bool]) -> list[bytes]:
    """Messages up to and including the first one ``last`` accepts."""
    out = []
    while True:
        raw = await client.message()
        out.append(raw)
        if last(raw):
            return out


def hangups(count: int) -> Callable[[bytes], bool]:
    seen = 0

    def done(raw: bytes) -> bool:
        nonlocal seen
        seen += event("Hangup")(raw)
        return seen == count

    return done


async def originate(client: Client, action_id: str, *variables: str, **extra: str) -> None:
    lines = [
        "Action: Originate",
        f"ActionID: {action_id}",
        f"Channel: {extra.pop('Channel', 'PJSIP/1001')}",
        "Context: agents",
        f"Exten: {extra.pop('Exten', NUMBER)}",
        "Priority: 1",
        "Async: true",
        *(f"{k}: {v}" for k, v in extra.items()),
        *(f"Variable: {v}" for v in variables),
    ]
    client.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    # The end of an earlier call may still be ahead of the answer.
    assert await client.until(lambda raw: raw.startswith(b"Response: ")) == (
        f"Response: Success\r\nActionID: {action_id}\r\n"
        "Message: Originate successfully queued".encode()
    )


def channel_events(messages: list[bytes], uniqueid: str) -> list[Fields]:
    return [pairs(m) for m in messages if fields(m).get("Uniqueid") == uniqueid]


def recorded_varset_keys() -> list[str]:
    recording = Recording.load(AMI_DIR / "06_click_to_call.ami")
    for message in recording.messages():
        info = fields(message.raw)
        if info.get("Event") == "VarSet" and info.get("Variable") == "CRM_CAMPAIGN":
            return [key for key, _ in pairs(message.raw)]
    raise AssertionError("06 has no CRM_CAMPAIGN VarSet")


# --- queue members ------------------------------------------------------------------------


async def queue_members(client: Client, queue: str = "support") -> dict[str, dict[str, str]]:
    client.send("QueueStatus", ActionID="qs", Queue=queue)
    out = {}
    while not event("QueueStatusComplete")(raw := await client.message()):
        if event("QueueMember")(raw):
            out[fields(raw)["Location"]] = fields(raw)
    return out


async def answer(client: Client, action: str, **headers: str) -> dict[str, str]:
    client.send(action, ActionID="a", **headers)
    return fields(await client.message())


async def test_queue_add_pause_remove_round_trip(client: Client) -> None:
    before = int(time.time())
    client.send(
        "QueueAdd",
        ActionID="add",
        Queue="support",
        Interface="PJSIP/1004",
        Penalty="2",
        Paused="true",
        Reason="training",
        MemberName="Ali Test",
    )
    assert await client.message() == (
        b"Response: Success\r\nActionID: add\r\nMessage: Added interface to queue"
    )
    added = await client.message()
    assert [k for k, _ in pairs(added)] == ["Event", "Privilege", *MEMBER_KEYS]
    info = fields(added)
    assert before <= int(info["LoginTime"]) <= time.time()
    assert info == {
        "Event": "QueueMemberAdded",
        "Privilege": "agent,all",
        "Queue": "support",
        "MemberName": "Ali Test",
        "Interface": "PJSIP/1004",
        "StateInterface": "PJSIP/1004",
        "Membership": "dynamic",
        "Penalty": "2",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": info["LoginTime"],
        "LoginTime": info["LoginTime"],
        "InCall": "0",
        "Status": "4",  # chan_pjsip has no endpoint 1004
        "Paused": "1",
        "PausedReason": "training",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    member = (await queue_members(client))["PJSIP/1004"]
    assert (member["Name"], member["Membership"], member["Penalty"]) == ("Ali Test", "dynamic", "2")
    assert (member["Paused"], member["PausedReason"]) == ("1", "training")

    client.send(
        "QueuePause", ActionID="up", Interface="PJSIP/1004", Paused="false", Queue="support"
    )
    assert fields(await client.message())["Message"] == "Interface unpaused successfully"
    unpaused = fields(await client.message())
    assert (unpaused["Event"], unpaused["Paused"], unpaused["PausedReason"]) == (
        "QueueMemberPause",
        "0",
        "",
    )
    assert (await queue_members(client))["PJSIP/1004"]["Paused"] == "0"

    client.send("QueueRemove", ActionID="rm", Queue="support", Interface="PJSIP/1004")
    assert await client.message() == (
        b"Response: Success\r\nActionID: rm\r\nMessage: Removed interface from queue"
    )
    removed = fields(await client.message())
    assert (removed["Event"], removed["Interface"], removed["Membership"]) == (
        "QueueMemberRemoved",
        "PJSIP/1004",
        "dynamic",
    )
    assert "PJSIP/1004" not in await queue_members(client)
    client.send("QueuePause", ActionID="p", Interface="PJSIP/1004", Paused="true")
    assert fields(await client.message())["Message"] == "Interface not found"


async def test_queue_add_and_remove_errors(client: Client) -> None:
    errors = {
        ("QueueAdd", "support", "PJSIP/1001"): "Unable to add interface: Already there",
        ("QueueAdd", "sales", "PJSIP/1001"): "Unable to add interface to queue: No such queue",
        ("QueueAdd", "", "PJSIP/1001"): "'Queue' not specified.",
        ("QueueAdd", "support", ""): "'Interface' not specified.",
        ("QueueRemove", "support", "PJSIP/1009"): "Unable to remove interface: Not there",
        ("QueueRemove", "sales", "PJSIP/1001"): (
            "Unable to remove interface from queue: No such queue"
        ),
        ("QueueRemove", "support", "PJSIP/1001"): "Member not dynamic",  # from queues.conf
        ("QueueRemove", "", "PJSIP/1001"): "Need 'Queue' and 'Interface' parameters.",
    }
    for (action, queue, interface), message in errors.items():
        headers = {k: v for k, v in (("Queue", queue), ("Interface", interface)) if v}
        assert await answer(client, action, **headers) == {
            "Response": "Error",
            "ActionID": "a",
            "Message": message,
        }
    assert len(await queue_members(client)) == 3


async def test_queue_pause_of_one_queue(client: Client) -> None:
    reply = await answer(client, "QueuePause", Interface="PJSIP/1002", Paused="1", Queue="sales")
    assert reply["Message"] == "Interface not found"
    reply = await answer(
        client, "QueuePause", Interface="PJSIP/1002", Paused="1", Queue="support", Reason="r"
    )
    assert reply["Message"] == "Interface paused successfully"
    paused = fields(await client.message())
    assert (paused["Queue"], paused["Paused"], paused["PausedReason"]) == ("support", "1", "r")


async def test_pause_member_sends_what_a_queue_pause_would(
    sim: AmiSimulator, client: Client
) -> None:
    await answer(client, "QueuePause", Interface="PJSIP/1003", Paused="1", Reason="lunch")
    by_action = pairs(await client.message())
    assert sim.pause_member("PJSIP/1002", True, "lunch") == 1
    by_phone = pairs(await client.message())  # no Response before it
    assert [k for k, _ in by_phone] == [k for k, _ in by_action]
    assert dict(by_phone) == dict(
        by_action,
        MemberName="Reza Karimi",
        Interface="PJSIP/1002",
        StateInterface="PJSIP/1002",
        LastPause=dict(by_phone)["LastPause"],
    )
    assert sim.pause_member("PJSIP/1009", True) == 0
    members = await queue_members(client)
    assert {k: (m["Paused"], m["PausedReason"]) for k, m in members.items()} == {
        "PJSIP/1001": ("0", ""),
        "PJSIP/1002": ("1", "lunch"),
        "PJSIP/1003": ("1", "lunch"),
    }


async def test_set_device_state(sim: AmiSimulator, client: Client) -> None:
    sim.set_device_state("PJSIP/1001", "UNAVAILABLE")
    assert await client.message() == (
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: PJSIP/1001\r\n"
        b"State: UNAVAILABLE"
    )
    status = fields(await client.message())
    assert (status["Event"], status["Interface"], status["Status"]) == (
        "QueueMemberStatus",
        "PJSIP/1001",
        "5",
    )
    assert (await queue_members(client))["PJSIP/1001"]["Status"] == "5"
    with pytest.raises(ValueError, match="unknown device state"):
        sim.set_device_state("PJSIP/1001", "ASLEEP")


async def test_calls_show_the_members_as_they_are(sim: AmiSimulator, client: Client) -> None:
    """A generated call's QueueMemberStatus carries the member table (a pause, a penalty),
    not the recording PBX's unpaused members, and does not undo a pause."""
    assert sim.pause_member("PJSIP/1001", True, "after-call work") == 1
    await client.message()
    await originate(client, "c2c-m")
    messages = await collect(client, hangups(2))
    messages += await collect(client, event("QueueMemberStatus"))
    statuses = [fields(m) for m in messages if event("QueueMemberStatus")(m)]
    assert [s["Status"] for s in statuses] == ["3", "1"]  # busy during the call, then free
    assert {(s["Paused"], s["PausedReason"]) for s in statuses} == {("1", "after-call work")}
    member = (await queue_members(client))["PJSIP/1001"]
    assert (member["Paused"], member["PausedReason"], member["Status"]) == (
        "1",
        "after-call work",
        "1",
    )
