"""Click-to-call and agent controls on the simulated PBX, through a real socket: Originate
variables and outcomes, QueueAdd/QueueRemove/QueuePause, and member changes the PBX makes
by itself. Expected shapes come from the recordings (06, A2, A3) and Asterisk 22's
manager.c/app_queue.c."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from telephony.simulator import AmiSimulator
from telephony.simulator.originate import (
    CUSTOMER_FAILURES,
    OriginateRequest,
    fail_customer_leg,
    parse_variables,
)
from telephony.simulator.protocol import parse_fields
from telephony.simulator.server import _templates
from telephony.simulator.state import MEMBER_KEYS
from telephony.simulator.trace import Recording
from tests.screenpop.support import before_first
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


# --- Originate variables ------------------------------------------------------------------


async def test_originate_variables_are_set_on_the_agent_leg_before_it_rings(
    sim: AmiSimulator, client: Client
) -> None:
    await originate(
        client, "c2c-v", "CRM_CALL=42", "__CRM_TICKET=T-1,_CRM_SOURCE=web", CallerID="<0211>"
    )
    messages = await collect(client, hangups(2))
    created = [fields(m) for m in messages if event("Newchannel")(m)]
    agent, trunk = created[0]["Uniqueid"], created[1]["Uniqueid"]
    assert created[0]["Channel"].startswith("PJSIP/1001-")

    agent_events = channel_events(messages, agent)
    names = [dict(f)["Event"] for f in agent_events]
    ringing = next(
        i for i, f in enumerate(agent_events) if dict(f).get("ChannelStateDesc") == "Ringing"
    )
    assert names[:5] == ["Newchannel", "Newexten", "VarSet", "VarSet", "VarSet"]
    assert ringing > 4
    # manager.c builds its variable list by prepending: the last one sent is set first.
    varsets = [dict(f) for f in agent_events[2:5]]
    assert [(v["Variable"], v["Value"]) for v in varsets] == [
        ("_CRM_SOURCE", "web"),
        ("__CRM_TICKET", "T-1"),
        ("CRM_CALL", "42"),
    ]
    # Shaped like the recorded VarSets of 06, with the agent channel's block as it is then.
    block = [p for p in agent_events[1] if p[0] not in ("Event", "Privilege")][:14]
    for varset in agent_events[2:5]:
        assert [key for key, _ in varset] == recorded_varset_keys()
        assert varset[:2] == [("Event", "VarSet"), ("Privilege", "dialplan,all")]
        assert varset[2:16] == block
    # The recording's own Originate variables are gone.
    assert not any(b"CRM_CAMPAIGN" in m or b"T-4711" in m for m in messages)

    # The customer leg inherits the underscored ones after what the dialplan passed on,
    # newest first; one underscore is dropped, two are kept (as __CRM_DIRECTION in 06).
    trunk_varsets = [
        (dict(f)["Variable"], dict(f)["Value"])
        for f in channel_events(messages, trunk)
        if dict(f)["Event"] == "VarSet"
    ]
    assert trunk_varsets[:5] == [
        ("DIALEDPEERNUMBER", f"{NUMBER}@trunk"),
        ("__CRM_RECORDING", trunk_varsets[1][1]),
        ("__CRM_DIRECTION", "outbound"),
        ("__CRM_TICKET", "T-1"),
        ("CRM_SOURCE", "web"),
    ]
    assert ("CRM_CALL", "42") not in trunk_varsets

    request = sim.originate_requests[-1]
    assert request == OriginateRequest(
        endpoint="1001",
        exten=NUMBER,
        action_id="c2c-v",
        callerid_name="",
        callerid_num="0211",
        channel="PJSIP/1001",
        context="agents",
        variables=(("CRM_CALL", "42"), ("__CRM_TICKET", "T-1"), ("_CRM_SOURCE", "web")),
    )
    report = next(fields(m) for m in messages if event("OriginateResponse")(m))
    assert report["ActionID"] == "c2c-v" and report["Exten"] == NUMBER
    assert (report["CallerIDNum"], report["CallerIDName"]) == ("0211", "<unknown>")


async def test_originate_without_variables_sets_none(client: Client) -> None:
    await originate(client, "c2c-n")
    messages = await collect(client, hangups(2))
    agent = next(fields(m)["Uniqueid"] for m in messages if event("Newchannel")(m))
    agent_events = [dict(f)["Event"] for f in channel_events(messages, agent)]
    assert agent_events[:3] == ["Newchannel", "Newexten", "NewAccountCode"]
    assert not any(b"CRM_TICKET" in m or b"CRM_CAMPAIGN" in m for m in messages)


def test_variable_headers_are_read_as_asterisk_reads_them() -> None:
    assert parse_variables(["A=1,B=2", " C=x=y", "NOVALUE", "=v", "D="]) == (
        ("A", "1"),
        ("B", "2"),
        ("C", "x=y"),
        ("D", ""),
    )
    assert parse_variables(['E="a,b",F=(c,d)']) == (("E", "a,b"), ("F", "(c,d)"))


# --- Originate outcomes -------------------------------------------------------------------


async def test_each_outcome_answers_as_asterisk_does(sim: AmiSimulator, client: Client) -> None:
    expected = {
        # outcome: (Response, Reason, customer leg Cause, TechCause, DialEnd, DIALSTATUS)
        "answered": ("Success", "4", None, None, "ANSWER", "ANSWER"),
        "customer_busy": ("Success", "4", "17", "486", "BUSY", "BUSY"),
        "customer_no_answer": ("Success", "4", "19", "480", "NOANSWER", "NOANSWER"),
        "congestion": ("Success", "4", "34", "503", "CONGESTION", "CONGESTION"),
        # Cause 1 is not one ast_hangup_cause_to_dial_status names: DialEnd says NOANSWER,
        # app_dial's DIALSTATUS says CHANUNAVAIL.
        "invalid_number": ("Success", "4", "1", "404", "NOANSWER", "CHANUNAVAIL"),
    }
    cause_texts = {
        "17": "User busy",
        "19": "User alerting, no answer",
        "34": "Circuit/channel congestion",
        "1": "Unallocated (unassigned) number",
    }
    numbers = {outcome: f"0912000000{i}" for i, outcome in enumerate(expected)}
    sim.originate_outcome = {number: outcome for outcome, number in numbers.items()}
    for outcome, (result, reason, cause, tech, dial_end, dialstatus) in expected.items():
        await originate(client, f"id-{outcome}", Exten=numbers[outcome])
        messages = await collect(client, hangups(2))
        report = next(fields(m) for m in messages if event("OriginateResponse")(m))
        assert (report["Response"], report["Reason"], report["ActionID"]) == (
            result,
            reason,
            f"id-{outcome}",
        )
        assert report["Exten"] == numbers[outcome] and report["Context"] == "agents"
        trunk = [fields(m) for m in messages if event("Newchannel")(m)][1]
        ends = [fields(m) for m in messages if event("DialEnd")(m)]
        assert ends[-1]["DestUniqueid"] == trunk["Uniqueid"]
        assert ends[-1]["DialStatus"] == dial_end
        statuses = [
            fields(m)["Value"]
            for m in messages
            if event("VarSet")(m) and fields(m)["Variable"] == "DIALSTATUS"
        ]
        if cause is None:
            assert "BUSY" not in statuses
            continue
        assert statuses[-1] == dialstatus
        request = next(
            fields(m)
            for m in messages
            if event("HangupRequest")(m) and fields(m)["Uniqueid"] == trunk["Uniqueid"]
        )
        assert (request["Cause"], request["TechCause"]) == (cause, tech)
        for hangup in [fields(m) for m in messages if event("Hangup")(m)]:
            # Both legs: Dial copies the customer leg's cause to the agent's.
            assert (hangup["Cause"], hangup["Cause-txt"], hangup["TechCause"]) == (
                cause,
                cause_texts[cause],
                tech,
            )
        assert f"DIALSTATUS={dialstatus}".encode() in b"".join(messages)


async def test_agent_no_answer(sim: AmiSimulator, client: Client) -> None:
    sim.originate_outcome = lambda request: "agent_no_answer"
    await originate(client, "c2c-a2")
    messages = await collect(client, hangups(1))
    report = next(m for m in messages if event("OriginateResponse")(m))
    assert report == (
        b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: c2c-a2\r\n"
        b"Response: Failure\r\nChannel: PJSIP/1001\r\nContext: agents\r\n"
        b"Exten: 09121234567\r\nReason: 3\r\nUniqueid: <unknown>\r\n"
        b"CallerIDNum: <unknown>\r\nCallerIDName: <unknown>"
    )
    assert fields(messages[-1])["Cause"] == "19"


@pytest.mark.parametrize(
    ("outcome", "channel", "reason"),
    [
        ("device_offline", "PJSIP/1002", "0"),
        ("agent_busy", "PJSIP/1002", "5"),
        ("answered", "PJSIP/2999", "0"),  # not an endpoint of the PBX: no channel either
    ],
)
async def test_no_channel_outcomes_send_only_the_failure(
    sim: AmiSimulator, client: Client, outcome: str, channel: str, reason: str
) -> None:
    sim.originate_outcome = {NUMBER: outcome}
    await originate(client, "c2c-x", Channel=channel, CallerID='"CRM" <0211>')
    assert await client.message() == (
        b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: c2c-x\r\n"
        b"Response: Failure\r\nChannel: " + channel.encode() + b"\r\nContext: agents\r\n"
        b"Exten: 09121234567\r\nReason: " + reason.encode() + b"\r\nUniqueid: <unknown>\r\n"
        b"CallerIDNum: 0211\r\nCallerIDName: CRM"
    )
    client.send("Ping", ActionID="p")
    assert (await client.message()).startswith(b"Response: Success\r\nActionID: p\r\nPing")
    assert not sim.state.channels


async def test_outcome_choice_falls_back_to_the_default(sim: AmiSimulator) -> None:
    sim.originate_outcome = lambda request: None
    assert sim._outcome(OriginateRequest("1001", NUMBER, "", "", channel="PJSIP/1001")) == (
        "answered"
    )
    sim.originate_scenario = "click_to_call_customer_busy"  # the old names still work
    assert sim._outcome(OriginateRequest("1001", NUMBER, "", "", channel="PJSIP/1001")) == (
        "customer_busy"
    )
    with pytest.raises(ValueError, match="unknown originate outcome"):
        sim.originate_outcome = {NUMBER: "maybe"}
    with pytest.raises(ValueError, match="unknown originate outcome"):
        AmiSimulator(username=USER, secret=SECRET, originate_scenario="maybe")


@pytest.mark.parametrize("outcome", sorted(CUSTOMER_FAILURES))
def test_customer_failures_change_only_the_cause(outcome: str) -> None:
    [busy] = _templates(AMI_DIR)["click_to_call_customer_busy"]
    failed = fail_customer_leg(busy, outcome)
    assert failed.offsets == busy.offsets
    changed_keys = set()
    for old, new in zip(busy.messages, failed.messages, strict=True):
        old_pairs, new_pairs = pairs(old), pairs(new)
        assert [k for k, _ in old_pairs] == [k for k, _ in new_pairs]
        changed_keys |= {k for (k, a), (_, b) in zip(old_pairs, new_pairs, strict=True) if a != b}
    assert changed_keys == {
        "Cause",
        "Cause-txt",
        "TechCause",
        "DialStatus",
        "Value",
        "AppData",
        "Disposition",
        "Extra",
    }


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


# --- Hangup ---------------------------------------------------------------------------------


async def test_hangup_answers_as_the_manager_does(sim: AmiSimulator, client: Client) -> None:
    """Hangup by name (or Uniqueid) and by /regex/, and its errors, as manager.c's
    ast_manager_hangup_helper; a supervisor's channel in ChanSpy stops spying and hangs up
    with the cause given, the spied call goes on."""
    assert await answer(client, "Hangup") == {
        "Response": "Error",
        "ActionID": "a",
        "Message": "No channel specified",
    }
    assert (await answer(client, "Hangup", Channel="PJSIP/1009-00000001"))["Message"] == (
        "No such channel"
    )
    for bad, message in (
        ("/PJSIP", "Regex format invalid, Channel param should be /regex/"),
        ("/[/", "Regex compile failed on: /[/"),
    ):
        assert (await answer(client, "Hangup", Channel=bad))["Message"] == message

    # A queue call answered by 1002, standing still before its end.
    trace = "04_queue_answered"
    await sim.replay(
        AMI_DIR / f"{trace}.ami", pace="max", until=before_first(trace, "Event: HangupRequest")
    ).wait()
    agent = next(
        c for c in sim.state.channels.values() if c.block["Channel"].startswith("PJSIP/1002-")
    )
    spied = agent.block["Channel"]
    client.send(
        "Originate",
        ActionID="spy-1",
        Channel="PJSIP/1003",
        Context="tamas-spy",
        Exten="listen",
        Priority="1",
        Async="true",
        Variable=f"TAMAS_SPY_CHANNEL={spied}",
    )
    start = fields(await client.until(event("ChanSpyStart")))
    channel, uniqueid = start["SpyerChannel"], start["SpyerUniqueid"]
    assert uniqueid in sim.spies

    client.send("Hangup", ActionID="h1", Channel=channel, Cause="16")
    assert await client.until(lambda raw: raw.startswith(b"Response: ")) == (
        b"Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup"
    )
    stop = fields(
        await client.until(lambda raw: fields(raw).get("Event") in ("ChanSpyStop", "Hangup"))
    )
    assert (stop["Event"], stop["SpyerChannel"], stop["SpyeeChannel"]) == (
        "ChanSpyStop",
        channel,
        spied,
    )
    gone = fields(await client.until(event("Hangup")))
    assert (gone["Channel"], gone["Uniqueid"], gone["Cause"], gone["Cause-txt"]) == (
        channel,
        uniqueid,
        "16",
        "Normal Clearing",
    )
    assert sim.spies == {} and uniqueid not in sim.state.channels
    assert agent.block["Uniqueid"] in sim.state.channels  # the agent's call goes on
    assert (await answer(client, "Hangup", Channel=uniqueid))["Message"] == "No such channel"

    # By regex: every channel whose name matches, listed, then each one's Hangup.
    client.send("Hangup", ActionID="h2", Channel="/^PJSIP/100[2]-/", Cause="17")
    listed = await collect(client, event("ChannelsHungupListComplete"))
    listed = [m for m in listed if not event("Hangup")(m)]
    assert [fields(m) for m in listed] == [
        {
            "Response": "Success",
            "ActionID": "h2",
            "EventList": "start",
            "Message": "Channels hung up will follow",
        },
        {"Event": "ChannelHungup", "Channel": spied, "ActionID": "h2"},
        {
            "Event": "ChannelsHungupListComplete",
            "ActionID": "h2",
            "EventList": "Complete",
            "ListItems": "1",
        },
    ]
    hung = fields(await client.until(lambda raw: event("Hangup")(raw) and spied.encode() in raw))
    assert (hung["Cause"], hung["Cause-txt"]) == ("17", "User busy")
    assert agent.block["Uniqueid"] not in sim.state.channels
