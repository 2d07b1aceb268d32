"""The PBX simulator, driven through a real socket by a bare AMI client written here (not
the project's client: these tests must stand on their own)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from telephony.simulator import SCENARIOS, AmiSimulator

AMI_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
USER, SECRET = "crm", "sim-secret-1"
TERMINATOR = b"\r\n\r\n"
DEADLINE = 10.0  # seconds; generous, every wait below ends as soon as its condition holds


class Client:
    """A minimal AMI client: send actions, read whole messages (split on the empty line)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.banner = b""
        self.raw = bytearray()  # every byte received after the banner
        self._buffer = bytearray()

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        async with asyncio.timeout(DEADLINE):
            client.banner = await reader.readline()
        return client

    def send(self, action: str, **fields: str) -> None:
        lines = [f"Action: {action}"] + [f"{k}: {v}" for k, v in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def _fill(self) -> bool:
        data = await self.reader.read(65536)
        self.raw += data
        self._buffer += data
        return bool(data)

    async def message(self) -> bytes:
        """The next whole message, without its terminator."""
        async with asyncio.timeout(DEADLINE):
            while (end := self._buffer.find(TERMINATOR)) < 0:
                if not await self._fill():
                    raise EOFError(bytes(self._buffer))
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + len(TERMINATOR)]
        return raw

    @property
    def position(self) -> int:
        """Where in ``raw`` the next message starts (bytes already read may follow)."""
        return len(self.raw) - len(self._buffer)

    async def until(self, wanted: Callable[[bytes], bool]) -> bytes:
        while True:
            raw = await self.message()
            if wanted(raw):
                return raw

    async def received(self, size: int) -> bytes:
        """Until ``size`` bytes came after the banner."""
        async with asyncio.timeout(DEADLINE):
            while len(self.raw) < size:
                if not await self._fill():
                    break
        return bytes(self.raw)

    async def closed_by_peer(self) -> bytes:
        """Read to the end of the connection; what came before it."""
        async with asyncio.timeout(DEADLINE):
            try:
                while await self._fill():
                    pass
            except ConnectionResetError:
                pass
        return bytes(self._buffer)

    async def login(self, events: str = "on") -> list[bytes]:
        self.send("Login", Username=USER, Secret=SECRET, Events=events, ActionID="login-1")
        first = await self.message()
        return [first, await self.message()] if events == "on" else [first]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def fields(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode().split("\r\n"):
        key, _, value = line.partition(": ")
        out.setdefault(key, value)
    return out


def event(name: str) -> Callable[[bytes], bool]:
    return lambda raw: raw.startswith(f"Event: {name}\r\n".encode())


def recorded_stream(name: str) -> bytes:
    """What a replay must send: the recording without the recorder's own session (banner,
    its Login response and the FullyBooted after it) and without the final Goodbye."""
    data = (AMI_DIR / f"{name}.ami").read_bytes()
    body = data[data.index(b"\r\n") + 2 :]
    messages = body.split(TERMINATOR)
    assert b"Message: Authentication accepted" in messages[0]
    skip = 2 if messages[1].startswith(b"Event: FullyBooted") else 1  # none with Events: off
    assert messages[-2].startswith(b"Response: Goodbye") and messages[-1] == b""
    return TERMINATOR.join(messages[skip:-2]) + TERMINATOR


def recorded_chunks(name: str) -> list[tuple[int, bytes, float]]:
    data = (AMI_DIR / f"{name}.ami").read_bytes()
    rows = (AMI_DIR / f"{name}.ami.idx").read_text().split()
    return [
        (int(o), data[int(o) : int(o) + int(n)], float(t))
        for o, n, t in zip(rows[::3], rows[1::3], rows[2::3], strict=True)
    ]


def template_events(name: str) -> list[str]:
    """A recorded call's event names, as a generated copy of it must have them."""
    names = []
    for raw in recorded_stream(name).split(TERMINATOR)[:-1]:
        info = fields(raw)
        if "Event" not in info:
            continue  # the answer to the recorder's own Originate
        if info["Event"] == "SuccessfulAuth" and info.get("Service") == "AMI":
            continue  # the recorder's own login
        names.append(info["Event"])
    return names


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(username=USER, secret=SECRET, speed=None, seed=7) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: AmiSimulator) -> AsyncIterator[Client]:
    connection = await Client.connect(sim.port)
    yield connection
    await connection.close()


# --- login and simple actions -------------------------------------------------------------


async def test_banner_and_login(client: Client) -> None:
    assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
    accepted, booted = await client.login()
    assert accepted == b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted"
    assert booted.startswith(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: ")
    assert booted.endswith(b"\r\nStatus: Fully Booted")


async def test_login_with_events_off_gets_no_fullybooted(client: Client) -> None:
    (accepted,) = await client.login(events="off")
    assert fields(accepted)["Message"] == "Authentication accepted"
    client.send("Ping", ActionID="p")
    assert fields(await client.message())["Ping"] == "Pong"


async def test_wrong_secret_is_refused_and_closed(sim: AmiSimulator) -> None:
    client = await Client.connect(sim.port)
    client.send("Login", Username=USER, Secret="wrong", ActionID="l")
    assert await client.message() == (
        b"Response: Error\r\nActionID: l\r\nMessage: Authentication failed"
    )
    assert await client.closed_by_peer() == b""
    await client.close()


async def test_actions_before_login_are_refused(client: Client) -> None:
    client.send("CoreShowChannels", ActionID="early")
    # What Asterisk's manager.c answers an action before Login.
    assert await client.message() == (
        b"Response: Error\r\nActionID: early\r\nMessage: Permission denied"
    )


async def test_unknown_action(client: Client) -> None:
    await client.login()
    client.send("Frobnicate", ActionID="u1")
    answer = fields(await client.message())
    assert answer["Response"] == "Error" and answer["ActionID"] == "u1"
    assert answer["Message"].startswith("Invalid/unknown command")


async def test_ping(client: Client) -> None:
    await client.login()
    client.send("Ping", ActionID="ping-7")
    raw = await client.message()
    assert re.fullmatch(
        rb"Response: Success\r\nActionID: ping-7\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}", raw
    )


async def test_logoff_says_goodbye_and_closes(client: Client) -> None:
    await client.login()
    client.send("Logoff", ActionID="bye")
    assert await client.message() == (
        b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish."
    )
    assert await client.closed_by_peer() == b""


async def test_events_action_turns_the_stream_off(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    client.send("Events", EventMask="off", ActionID="ev")
    assert await client.message() == b"Response: Success\r\nActionID: ev\r\nEvents: Off"
    await sim.replay(AMI_DIR / "A2_click_to_call_agent_no_answer.ami", pace="max").wait()
    client.send("Ping", ActionID="after")
    assert fields(await client.message())["ActionID"] == "after"  # no event came before it
    assert sim.events_unheard > 0 and sim.events_sent == 0


# --- replay ---------------------------------------------------------------------------


async def test_replay_at_max_pace_is_byte_exact(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    after_login = client.position
    expected = recorded_stream("A1_persian_name_direct_answered")
    replay = sim.replay(AMI_DIR / "A1_persian_name_direct_answered.ami", pace="max")
    await replay.wait()
    assert replay.finished
    received = await client.received(after_login + len(expected))
    assert received[after_login:] == expected
    assert "علی رضایی".encode() in expected
    assert sim.events_sent == expected.count(b"\r\n\r\nEvent: ") + 1


async def test_recorded_pace_writes_the_recorded_chunks(sim: AmiSimulator, client: Client) -> None:
    name = "10_actions_idle"  # its recording has chunks that end inside a message
    pieces: list[bytes] = []
    sim.add_tap(pieces.append)
    await client.login()
    after_login = client.position
    # 20x the recorded pace: the recorded spacing, compressed, and the recorded cuts.
    loop = asyncio.get_running_loop()
    began = loop.time()
    await sim.replay(AMI_DIR / f"{name}.ami", pace=20.0).wait()
    elapsed = loop.time() - began
    expected = recorded_stream(name)
    start = (AMI_DIR / f"{name}.ami").read_bytes().index(expected)
    kept = [(c, t) for o, c, t in recorded_chunks(name) if o >= start]
    chunks = [c for c, _t in kept]
    assert elapsed >= (kept[-2][1] - kept[0][1]) / 20 * 0.9  # the last one is the Goodbye
    assert pieces == [c for c in chunks if c][: len(pieces)]
    assert b"".join(pieces) == expected
    assert any(not piece.endswith(TERMINATOR) for piece in pieces)  # a cut mid-message
    assert (await client.received(after_login + len(expected)))[after_login:] == expected


async def test_split_cuts_inside_characters_and_responses_wait_for_a_boundary(
    sim: AmiSimulator, client: Client
) -> None:
    pieces: list[bytes] = []
    sim.add_tap(pieces.append)
    await client.login()
    expected = recorded_stream("A1_persian_name_direct_answered")
    replay = sim.replay(AMI_DIR / "A1_persian_name_direct_answered.ami", pace="max", split=7)
    for n in range(20):  # pings while the stream is being cut in 7-byte pieces
        client.send("Ping", ActionID=f"mid-{n}")
        await asyncio.sleep(0)
    await replay.wait()
    assert any(0x80 <= piece[0] < 0xC0 for piece in pieces)  # a piece starts mid-character
    client.send("Ping", ActionID="last")
    replayed: list[bytes] = []
    pongs_at: list[int] = []
    while len(pongs_at) < 21:
        raw = await client.message()
        if raw.startswith(b"Response: Success\r\nActionID: ") and b"\r\nPing: Pong" in raw:
            pongs_at.append(len(replayed))
        else:
            replayed.append(raw)
    # Answers went out during the replay, and every one between two messages, never inside.
    assert pongs_at[0] < len(replayed)
    assert TERMINATOR.join(replayed) + TERMINATOR == expected


async def test_logoff_mid_message_waits_for_its_end(
    sim: AmiSimulator, client: Client, tmp_path: Path
) -> None:
    # A2 re-indexed so that one piece ends inside a message and the next comes 2 s later.
    data = (AMI_DIR / "A2_click_to_call_agent_no_answer.ami").read_bytes()
    cut = data.index(b"Event: Newchannel") + 40
    (tmp_path / "slow.ami").write_bytes(data)
    (tmp_path / "slow.ami.idx").write_text(f"0\t{cut}\t100.0\n{cut}\t{len(data) - cut}\t102.0\n")
    await client.login()
    sim.replay(tmp_path / "slow.ami", pace=4.0)  # a 0.5 s window inside the message
    async with asyncio.timeout(DEADLINE):
        while not client.raw.endswith(data[cut - 10 : cut]):
            await client._fill()
    client.send("Logoff", ActionID="bye")
    rest = await client.closed_by_peer()
    # The message under way was finished first; then the Goodbye; then the close.
    newchannel = data[data.index(b"Event: Newchannel") :]
    newchannel = newchannel[: newchannel.index(TERMINATOR) + len(TERMINATOR)]
    goodbye = b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    assert rest.count(goodbye) == 1 and rest.endswith(TERMINATOR + goodbye)
    assert rest.index(newchannel) < rest.index(goodbye)


async def test_resync_answers_reflect_the_replayed_stream(
    sim: AmiSimulator, client: Client
) -> None:
    """Replay 11_actions_busy up to the moment the recorder asked the real PBX, then ask the
    simulator the same: the answers must match the real ones."""
    sent_times = [
        float(row.split("\t")[2])
        for row in (AMI_DIR / "11_actions_busy_responses.sent.ami.idx").read_text().splitlines()
    ]
    real = [r for r in recorded_stream("11_actions_busy_responses").split(TERMINATOR) if r]
    real_channels = {fields(r)["Uniqueid"]: fields(r) for r in real if event("CoreShowChannel")(r)}
    real_entries = [fields(r) for r in real if event("QueueEntry")(r) and b"busy-02" in r]
    assert len(real_channels) == 6 and len(real_entries) == 1

    await client.login(events="off")
    replay = sim.replay(AMI_DIR / "11_actions_busy.ami", pace="max")
    await replay.wait()  # sanity: the whole stream ends with nothing up
    assert replay.finished and not sim.state.channels

    replay = sim.replay(AMI_DIR / "11_actions_busy.ami", pace="max", until=sent_times[1])
    await replay.wait()
    assert not replay.finished
    client.send("CoreShowChannels", ActionID="busy-01")
    ack = fields(await client.message())
    assert (ack["Response"], ack["EventList"], ack["Message"]) == (
        "Success",
        "start",
        "Channels will follow",
    )
    ours = {}
    while not event("CoreShowChannelsComplete")(raw := await client.message()):
        ours[fields(raw)["Uniqueid"]] = fields(raw)
    assert fields(raw) == {
        "Event": "CoreShowChannelsComplete",
        "ActionID": "busy-01",
        "EventList": "Complete",
        "ListItems": "6",
    }
    assert ours.keys() == real_channels.keys()
    for uniqueid, row in ours.items():
        real_row = real_channels[uniqueid]
        assert list(row) == list(real_row)
        assert {k: v for k, v in row.items() if k != "Duration"} == {
            k: v for k, v in real_row.items() if k != "Duration"
        }
        assert abs(_seconds(row["Duration"]) - _seconds(real_row["Duration"])) <= 1

    client.send("QueueStatus", ActionID="busy-02")
    items = []
    while not event("QueueStatusComplete")(raw := await client.message()):
        items.append(fields(raw))
    entries = [i for i in items if i.get("Event") == "QueueEntry"]
    assert [i.get("Event") for i in items] == [
        None,  # the list acknowledgement (a Response)
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueMember",
        "QueueEntry",
    ]
    assert fields(raw)["ListItems"] == "5"
    assert items[1]["Calls"] == "1"
    # Members as the PBX's last QueueMemberStatus events described them. (QueueParams'
    # Holdtime, Completed, ... count calls from before the recording: not comparable.)
    real_members = [fields(r) for r in real if event("QueueMember")(r) and b"busy-02" in r]
    assert [i for i in items if i.get("Event") == "QueueMember"] == real_members
    (entry,) = entries
    assert {k: v for k, v in entry.items() if k != "Wait"} == {
        k: v for k, v in real_entries[0].items() if k != "Wait"
    }
    assert abs(int(entry["Wait"]) - int(real_entries[0]["Wait"])) <= 1

    replay.resume()
    await replay.wait()
    assert replay.finished
    client.send("CoreShowChannels", ActionID="after")
    await client.until(event("CoreShowChannelsComplete"))
    client.send("QueueStatus", ActionID="after-q")
    items = []
    while not event("QueueStatusComplete")(raw := await client.message()):
        items.append(fields(raw))
    assert "QueueEntry" not in [i.get("Event") for i in items]
    assert not sim.state.channels and not sim.state.entries


def _seconds(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


# --- originate, queue pause -----------------------------------------------------------


async def test_originate_answers_and_then_reports(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    client.send(
        "Originate",
        ActionID="c2c-t1",
        Channel="PJSIP/1002",
        Context="agents",
        Exten="09351234567",
        Priority="1",
        CallerID='"CRM" <09351234567>',
        Async="true",
    )
    answer = await client.until(lambda raw: raw.startswith(b"Response: "))
    assert answer == (
        b"Response: Success\r\nActionID: c2c-t1\r\nMessage: Originate successfully queued"
    )
    report = fields(await client.until(event("OriginateResponse")))
    assert report["ActionID"] == "c2c-t1" and report["Response"] == "Success"
    assert report["Reason"] == "4" and report["Exten"] == "09351234567"
    assert re.fullmatch(r"PJSIP/1002-[0-9a-f]{8}", report["Channel"])
    assert report["CallerIDName"] == "CRM"
    dial = fields(await client.until(event("DialBegin")))
    assert dial["DialString"] == "09351234567@trunk"
    assert sim.calls_started == 1


async def test_originate_needs_a_channel(client: Client) -> None:
    await client.login()
    client.send("Originate", ActionID="o", Exten="0912")
    assert await client.message() == (
        b"Response: Error\r\nActionID: o\r\nMessage: Channel not specified"
    )


async def test_queue_pause(client: Client) -> None:
    await client.login()
    client.send("QueuePause", ActionID="qp", Interface="PJSIP/1003", Paused="true", Reason="lunch")
    assert await client.message() == (
        b"Response: Success\r\nActionID: qp\r\nMessage: Interface paused successfully"
    )
    paused = fields(await client.until(event("QueueMemberPause")))
    assert (paused["Interface"], paused["Paused"], paused["PausedReason"]) == (
        "PJSIP/1003",
        "1",
        "lunch",
    )
    client.send("QueueStatus", ActionID="qs", Queue="support")
    members = []
    while not event("QueueStatusComplete")(raw := await client.message()):
        if event("QueueMember")(raw):
            members.append(fields(raw))
    assert {m["Location"]: m["Paused"] for m in members} == {
        "PJSIP/1001": "0",
        "PJSIP/1002": "0",
        "PJSIP/1003": "1",
    }
    client.send("QueuePause", ActionID="qx", Interface="PJSIP/9999", Paused="false")
    assert fields(await client.message())["Message"] == "Interface not found"


# --- synthetic traffic ----------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_generated_calls_follow_their_templates(
    sim: AmiSimulator, client: Client, scenario: str
) -> None:
    await client.login()
    after_login = client.position
    # Three calls a second at real spacing, sent as fast as possible: they overlap.
    traffic = sim.generate(
        rate=3.0, speed=1.0, realtime=False, count=4, scenarios=[scenario], keep=True
    )
    await traffic.wait()
    assert traffic.calls_started == 4
    total = sum(len(call.messages) for call in traffic.calls)
    assert sim.events_sent == total

    received = [m for m in (await _all_events(client, after_login, total)) if m]
    assert len(received) == total
    ids_per_call = []
    for call in traffic.calls:
        assert [fields(m)["Event"] for m in call.messages] == template_events(call.template)
        ids: set[str] = set()
        for raw in call.messages:
            for key, value in fields(raw).items():
                if re.fullmatch(r"(?i).*(uniqueid|linkedid)", key) and re.fullmatch(
                    r"\d+\.\d+", value
                ):
                    ids.add(value)
                if key.endswith("Channel") and re.fullmatch(r".+-[0-9a-f]{8}(;\d)?", value):
                    ids.add(value)
                if key.endswith("BridgeUniqueid") and value:
                    ids.add(value)
        ids_per_call.append(ids)
        number = call.number.decode()
        assert re.fullmatch(r"(0|\+98|0098)([1-9]\d{9})", number)
        assert any(number in fields(m).values() for m in call.messages)
    for i, a in enumerate(ids_per_call):
        for b in ids_per_call[i + 1 :]:
            assert not a & b
    # The calls were interleaved on the wire, not sent one after the other.
    first_call = set(traffic.calls[0].messages)
    positions = [i for i, m in enumerate(received) if m in first_call]
    assert positions[-1] - positions[0] + 1 > len(first_call) or len(traffic.calls[0].messages) < 30


async def _all_events(client: Client, after_login: int, count: int) -> list[bytes]:
    async with asyncio.timeout(DEADLINE):
        while bytes(client.raw[after_login:]).count(TERMINATOR) < count:
            if not await client._fill():
                break
    return bytes(client.raw[after_login:]).split(TERMINATOR)[:count]


async def test_resync_answers_see_generated_calls(sim: AmiSimulator, client: Client) -> None:
    await client.login(events="off")
    # Calls go on with nobody listening, as on a real PBX; they last a few seconds at 5x.
    traffic = sim.generate(
        rate=20.0,
        speed=5.0,
        count=2,
        scenarios=["queue_answered"],
        wait_for_clients=False,
        keep=True,
    )
    async with asyncio.timeout(DEADLINE):
        while True:
            client.send("QueueStatus", ActionID="q")
            items = []
            while not event("QueueStatusComplete")(raw := await client.message()):
                items.append(fields(raw))
            entries = [i for i in items if i.get("Event") == "QueueEntry"]
            if entries:
                break
    client.send("CoreShowChannels", ActionID="c")
    await client.message()
    channels = []
    while not event("CoreShowChannelsComplete")(raw := await client.message()):
        channels.append(fields(raw))
    await traffic.stop()
    generated = {fields(m).get("Uniqueid") for call in traffic.calls for m in call.messages} - {
        None
    }
    assert channels and {c["Uniqueid"] for c in channels} <= generated
    assert {e["Uniqueid"] for e in entries} <= {c["Uniqueid"] for c in channels}
    assert sim.events_unheard > 0 and sim.events_sent == 0


async def test_seed_makes_traffic_repeatable() -> None:
    runs = []
    for _ in range(2):
        async with AmiSimulator(username=USER, secret=SECRET, seed=42) as simulator:
            traffic = simulator.generate(
                rate=100.0, speed=None, realtime=False, count=12, wait_for_clients=False, keep=True
            )
            await traffic.wait()
            runs.append([(c.scenario, c.template, c.number, c.name) for c in traffic.calls])
    assert runs[0] == runs[1]
    names = [name.decode() for _s, _t, _n, name in runs[0] if name]
    assert any(re.search("[\u0600-\u06ff]", n) for n in names)
    assert any(re.fullmatch(r"[A-Za-z ]+", n) for n in names)


# --- faults ---------------------------------------------------------------------------


async def test_drop_connections(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    sim.drop_connections()
    assert b"Goodbye" not in await client.closed_by_peer()
    again = await Client.connect(sim.port)
    try:
        await again.login()
    finally:
        await again.close()


async def test_restart(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    replay = sim.replay(
        AMI_DIR / "A1_persian_name_direct_answered.ami", pace="max", until=1795347186.0
    )
    await replay.wait()
    assert sim.state.channels  # a call is up
    restarting = asyncio.create_task(sim.restart(downtime=0.3))
    shutdown = fields(await client.until(event("Shutdown")))
    assert shutdown == {
        "Event": "Shutdown",
        "Privilege": "system,all",
        "Shutdown": "Uncleanly",
        "Restart": "True",
    }
    await client.closed_by_peer()
    refused = False
    async with asyncio.timeout(DEADLINE):
        while not restarting.done():  # while it is down, connections are refused
            try:
                probe = await Client.connect(sim.port)
            except ConnectionRefusedError:
                refused = True
            else:
                await probe.close()
            await asyncio.sleep(0.01)  # poll interval
        await restarting
    assert refused and replay.interrupted
    again = await Client.connect(sim.port)
    try:
        accepted, booted = await again.login()
        assert fields(accepted)["Message"] == "Authentication accepted"
        assert fields(booted)["Event"] == "FullyBooted"
        again.send("CoreShowChannels", ActionID="after-restart")
        await again.message()
        assert fields(await again.message())["ListItems"] == "0"
    finally:
        await again.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"Event: Broken\r\nno colon on this line\r\n\r\n",
        b"Event: Bad\r\nCallerIDName: \xff\xfe\xd8\r\n\r\n",
        b"Event: Huge\r\nValue: " + b"x" * 200_000 + b"\r\n\r\n",
        b"\r\n\r\n\r\n",
    ],
)
async def test_garbage_is_sent_as_given(sim: AmiSimulator, client: Client, garbage: bytes) -> None:
    await client.login()
    after_login = client.position
    sim.send_garbage(garbage)
    assert (await client.received(after_login + len(garbage)))[after_login:] == garbage


async def test_finish_lets_the_calls_under_way_end(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    traffic = sim.generate(rate=40.0, speed=20.0, keep=True)  # until told otherwise
    async with asyncio.timeout(DEADLINE):
        while traffic.calls_started < 3:
            await client.message()
    await traffic.finish()
    assert traffic.done
    assert sim.events_sent == sum(len(call.messages) for call in traffic.calls)
    assert not sim.state.channels  # every call that started also ended


async def test_send_event(sim: AmiSimulator, client: Client) -> None:
    await client.login()
    sim.send_event([("Event", "Newchannel"), ("Channel", "PJSIP/x-00000001"), ("Uniqueid", "1.1")])
    raw = await client.until(event("Newchannel"))
    assert raw == b"Event: Newchannel\r\nChannel: PJSIP/x-00000001\r\nUniqueid: 1.1"
    assert "1.1" in sim.state.channels and sim.events_sent == 1
