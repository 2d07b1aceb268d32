"""Property-based tests of the AMI framing (hypothesis): whatever bytes arrive, cut however
TCP cuts them, the parser never raises, its buffer stays bounded, every well-formed message
sent whole comes out once and intact, and every bad one is counted. Then the same through a
real socket: a listener fed hypothesis-made garbage between real call traces keeps its
connection and still logs the calls.

Deterministic by default (``derandomize``: CI cannot flake). For a longer, random local run::

    TAMAS_FUZZ_EXAMPLES=5000 TAMAS_FUZZ_RANDOM=1 .venv/bin/pytest -q -p no:randomly \\
        tests/telephony/test_framing_fuzz.py
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import Database
from telephony.framing import (
    MAX_BANNER,
    TERMINATOR,
    Banner,
    Frame,
    FrameError,
    FrameParser,
    Message,
)
from telephony.simulator import AmiSimulator
from tests.telephony.test_listener import (
    _connected,
    as_expected,
    calls_of,
    db,  # noqa: F401 - the fixture, used by the socket test
    eventually,
    listener_for,
)
from tests.telephony.traces import AMI_DIR, expected_calls

EXAMPLES = int(os.environ.get("TAMAS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("TAMAS_FUZZ_RANDOM") != "1",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A small limit, so that oversized messages are cheap to make.
LIMIT = 2000
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

# --- strategies ---------------------------------------------------------------------------

# Keys as Asterisk writes them (letters, digits, a few marks), sometimes Persian: no space,
# no colon, no line break.
key = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/ن"),
    min_size=1,
    max_size=20,
)
# Values: any text but a line break (Persian names, emoji, NUL, colons, leading spaces).
value = st.text(
    alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
    max_size=40,
) | st.sampled_from(["علی رضایی", "مریم حسینی", "<unknown>", "", " lead", "a: b"])
pairs = st.lists(st.tuples(key, value), min_size=1, max_size=8)


def encode(message: list[tuple[str, str]], eol: str = "\r\n") -> bytes:
    return eol.join(f"{k}: {v}" for k, v in message).encode() + TERMINATOR


@st.composite
def bad_block(draw: st.DrawFn) -> bytes:
    """Bytes between two message boundaries that cannot be a message: no colon anywhere
    (invalid UTF-8 included), or longer than the limit. Each is exactly one FrameError."""
    if draw(st.integers(0, 9)) == 0:
        filler = draw(st.sampled_from([b"x", b"Event: Big\r\nData: ", "ی".encode()]))
        return filler * (LIMIT // len(filler) + draw(st.integers(1, 50))) + TERMINATOR
    raw = draw(st.binary(min_size=1, max_size=300)).replace(b":", b"")
    # Something other than line breaks, and no empty line inside: one piece of one frame.
    raw = raw.replace(b"\r\n\r\n", b"") or b"?"
    if not raw.strip(b"\r\n"):
        raw = b"?" + raw
    if (raw + TERMINATOR).find(TERMINATOR) != len(raw):
        raw = raw.rstrip(b"\r\n") + b"." if raw.rstrip(b"\r\n") else b"?"
    return raw + TERMINATOR


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(parser: FrameParser, chunks: list[bytes]) -> list[Frame]:
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(parser.feed(chunk))
        # The buffer is bounded whatever arrives (the slack: a terminator's first 3 bytes,
        # or a banner being waited for).
        assert parser.pending <= max(parser.max_message + 3, MAX_BANNER)
    return frames


def comparable(frames: list[Frame]) -> list[object]:
    # A dropped message's reported size is how much had arrived when it was dropped, which
    # depends on the cuts; that it was dropped does not.
    return ["FrameError" if isinstance(f, FrameError) else f for f in frames]


# --- properties of the parser --------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000), points=st.lists(st.integers(0, 3000), max_size=30))
def test_random_bytes_never_raise_and_the_cuts_do_not_matter(
    data: bytes, points: list[int]
) -> None:
    whole = FrameParser(max_message=LIMIT).feed(data)
    pieces = feed_all(FrameParser(max_message=LIMIT), cut(data, points))
    assert comparable(pieces) == comparable(whole)


@FUZZ
@given(
    messages=st.lists(pairs, max_size=6),
    banner=st.booleans(),
    eol=st.sampled_from(["\r\n", "\n"]),
    points=st.lists(st.integers(0, 5000), max_size=40),
)
def test_well_formed_messages_arrive_once_and_intact(
    messages: list[list[tuple[str, str]]], banner: bool, eol: str, points: list[int]
) -> None:
    data = (BANNER if banner else b"") + b"".join(encode(m, eol) for m in messages)
    frames = feed_all(FrameParser(), cut(data, points))
    if banner:
        assert frames[0] == Banner("11.0.0")
        frames = frames[1:]
    assert [f.pairs for f in frames if isinstance(f, Message)] == [tuple(m) for m in messages]
    assert all(isinstance(f, Message) and not f.bad_utf8 and not f.stray_lines for f in frames)


@dataclass(frozen=True)
class Good:
    pairs: list[tuple[str, str]]


@FUZZ
@given(
    stream=st.lists(st.one_of(pairs.map(Good), bad_block()), max_size=12),
    points=st.lists(st.integers(0, 20000), max_size=40),
)
def test_garbage_between_messages_is_counted_and_the_messages_survive(
    stream: list[Good | bytes], points: list[int]
) -> None:
    data = BANNER + b"".join(encode(x.pairs) if isinstance(x, Good) else x for x in stream)
    frames = feed_all(FrameParser(max_message=LIMIT), cut(data, points))
    assert frames[0] == Banner("11.0.0")
    good = [tuple(x.pairs) for x in stream if isinstance(x, Good)]
    assert [f.pairs for f in frames if isinstance(f, Message)] == good
    bad = sum(not isinstance(x, Good) for x in stream)
    assert sum(isinstance(f, FrameError) for f in frames) == bad


@FUZZ
@given(
    before=pairs,
    name=st.sampled_from(["علی رضایی", "مریم حسینی", "سید محمد‌حسین"]),
    keep=st.integers(1, 40),
    after=pairs,
    points=st.lists(st.integers(0, 2000), max_size=20),
)
def test_a_persian_name_cut_mid_character_is_decoded_with_replacement_not_lost(
    before: list[tuple[str, str]],
    name: str,
    keep: int,
    after: list[tuple[str, str]],
    points: list[int],
) -> None:
    raw = name.encode()
    broken = raw[: min(keep, len(raw) - 1)]
    if broken.decode("utf-8", "replace") == broken.decode("utf-8", "ignore"):
        broken += b"\xd9"  # ends on a whole letter: cut the next one
    message = (
        "\r\n".join(f"{k}: {v}" for k, v in before).encode()
        + b"\r\nCallerIDName: "
        + broken
        + b"\r\n"
        + encode(after)
    )
    frames = feed_all(FrameParser(), cut(BANNER + message + encode(after), points))
    assert [type(f) for f in frames] == [Banner, Message, Message]
    damaged, whole = frames[1], frames[2]
    assert isinstance(damaged, Message) and isinstance(whole, Message)
    assert damaged.bad_utf8 and not whole.bad_utf8
    assert damaged.pairs[: len(before)] == tuple(before)
    assert damaged.pairs[len(before) + 1 :] == tuple(after)
    got = damaged.pairs[len(before)]
    assert got[0] == "CallerIDName" and got[1].endswith("\ufffd")
    assert whole.pairs == tuple(after)


@FUZZ
@given(
    good=pairs,
    stray=st.lists(
        st.one_of(
            value.map(lambda v: v.replace(":", "") or "no colon"),  # no colon at all
            value.map(lambda v: ":" + v),  # an empty key
            st.tuples(key, key, value).map(lambda t: f"{t[0]} {t[1]}: {t[2]}"),  # a space
        ),
        min_size=1,
        max_size=4,
    ),
    at=st.integers(0, 8),
)
def test_lines_that_are_not_key_value_are_kept_aside(
    good: list[tuple[str, str]], stray: list[str], at: int
) -> None:
    lines = [f"{k}: {v}" for k, v in good]
    bad = [s for s in stray if s.strip(" ")]
    position = min(at, len(lines))
    lines[position:position] = bad
    frames = FrameParser().feed("\r\n".join(lines).encode() + TERMINATOR)
    [message] = frames
    assert isinstance(message, Message)
    assert message.pairs == tuple(good)
    assert message.stray_lines == tuple(bad)


@FUZZ
@given(
    good=pairs,
    stray=st.lists(
        st.one_of(
            value.map(lambda v: v.replace(":", "") or "no colon"),
            value.map(lambda v: ":" + v),
            st.tuples(key, key, value).map(lambda t: f"{t[0]} {t[1]}: {t[2]}"),
        ),
        max_size=3,
    ),
    at=st.integers(0, 8),
    eol=st.sampled_from(["\r\n", "\n"]),
    asked=st.lists(key | st.sampled_from(["Event", "EVENT", "Uniqueid"]), max_size=4),
    lead=st.none() | st.tuples(st.sampled_from(["Event", "event", "EvEnT"]), value),
)
def test_look_ups_answer_as_the_pairs_say(
    lead: tuple[str, str] | None,
    good: list[tuple[str, str]],
    stray: list[str],
    at: int,
    eol: str,
    asked: list[str],
) -> None:
    """Whatever way a message is read (its bytes searched when asked, or a table of its
    pairs), a key gives the first value of a pair with that key, case aside."""
    good = [lead, *good] if lead is not None else good
    lines = [f"{k}: {v}" for k, v in good]
    position = min(at, len(lines))
    lines[position:position] = [s for s in stray if s.strip(" ")]
    [message] = FrameParser().feed(eol.join(lines).encode() + TERMINATOR)
    assert isinstance(message, Message)
    keys = [k for k, _ in good]
    for query in [*keys, *(k.upper() for k in keys), *(k.lower() for k in keys), *asked]:
        first = next((v for k, v in message.pairs if k.lower() == query.lower()), None)
        assert message.get(query, "<none>") == (first if first is not None else "<none>")
        assert (query in message) == (first is not None)
        assert message.getall(query)[:1] == ([first] if first is not None else [])
    assert message.event == message.get("Event")
    assert message == Message(message.pairs, message.stray_lines)


# --- the bounds, explicitly --------------------------------------------------------------


def test_a_10_mb_line_without_a_newline_is_dropped_once_and_the_buffer_stays_bounded() -> None:
    parser = FrameParser()
    frames = parser.feed(BANNER + b"Event: Before\r\n\r\nEvent: Huge\r\nData: ")
    block = b"x" * (64 << 10)
    for _ in range(160):  # 10 MB in 64 kB reads, as a socket delivers them
        frames.extend(parser.feed(block))
        assert parser.pending <= parser.max_message + 3
    frames.extend(parser.feed(b"\r\n\r\nEvent: After\r\nA: 1\r\n\r\n"))
    assert [type(f) for f in frames] == [Banner, Message, FrameError, Message]
    assert [f.event for f in frames if isinstance(f, Message)] == ["Before", "After"]
    assert parser.pending == 0


def test_a_10_mb_message_in_one_read_is_dropped_too() -> None:
    parser = FrameParser()
    data = b"Event: Huge\r\n" + b"Data: " + b"y" * (10 << 20) + TERMINATOR + b"Event: After\r\n\r\n"
    frames = parser.feed(data)
    assert [type(f) for f in frames] == [FrameError, Message]
    assert parser.pending == 0


def test_a_message_of_exactly_the_limit_is_accepted_however_it_is_cut() -> None:
    body = b"Event: Edge\r\nData: "
    body += b"z" * (LIMIT - len(body))
    data = body + TERMINATOR + b"Event: Next\r\n\r\n"
    for split in range(len(body) - 2, len(body) + 5):
        parser = FrameParser(max_message=LIMIT)
        frames = parser.feed(data[:split]) + parser.feed(data[split:])
        assert [f.event for f in frames if isinstance(f, Message)] == ["Edge", "Next"], split
    over = body + b"z" + TERMINATOR
    assert [type(f) for f in FrameParser(max_message=LIMIT).feed(over)] == [FrameError]


def test_a_banner_that_never_ends_does_not_grow_the_buffer() -> None:
    parser = FrameParser()
    frames = parser.feed(b"Asterisk Call Manager/")
    for _ in range(40):
        frames.extend(parser.feed(b"9" * (64 << 10)))
        assert parser.pending <= parser.max_message + 3
    frames.extend(parser.feed(b"\r\n\r\nEvent: After\r\n\r\n"))
    assert [type(f) for f in frames] == [FrameError, Message]


# --- through a real socket -----------------------------------------------------------------

# Garbage a PBX (or a man in the middle) might send between messages: bad blocks, and
# messages that parse but make no sense (random events, a repeated ActionID, answers to
# actions nobody sent). Shutdown is left out: it is a real instruction to reconnect.
event_name = st.sampled_from(
    ["Newchannel", "Hangup", "DialBegin", "BridgeEnter", "VarSet", "QueueCallerJoin", "Bogus"]
)
nonsense = st.one_of(
    st.tuples(event_name, pairs).map(lambda t: encode([("Event", t[0]), *t[1]])),
    pairs.map(lambda p: encode([("ActionID", "1"), *p, ("ActionID", "2")])),
    pairs.map(lambda p: encode([("Event", "Bogus"), ("ActionID", "x"), ("Event", "Two"), *p])),
    pairs.map(lambda p: encode([("Response", "Success"), ("ActionID", "nobody"), *p])),
    pairs.map(lambda p: encode([("Response", "Error"), ("Response", "Again"), *p])),
)
garbage = st.lists(st.one_of(bad_block(), nonsense), min_size=1, max_size=8).map(b"".join)


# ``db`` is function-scoped: its examples share it, which is fine, each uses a PBX id of its own.
_pbx_numbers = itertools.count(1)


@settings(
    FUZZ,
    max_examples=max(3, EXAMPLES // 30),
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(first=garbage, between=garbage, last=garbage, huge=st.booleans())
async def test_a_listener_fed_garbage_between_real_calls_keeps_running_and_logs_them(
    db: Database,  # noqa: F811
    first: bytes,
    between: bytes,
    last: bytes,
    huge: bool,
) -> None:
    traces = ["A1_persian_name_direct_answered", "04_queue_answered"]
    pbx = f"fuzz-{next(_pbx_numbers)}"
    async with AmiSimulator(username="tamas", secret="sim-secret-1") as sim:
        listener = listener_for(sim, pbx, db)
        await listener.start()
        try:
            await eventually(lambda: _connected(listener))
            resyncs = listener.health.resyncs
            assert listener._manager is not None
            protocol = listener._manager.protocol
            sim.send_garbage(first)
            if huge:
                # Past the listener's limit (1 MiB): dropped and counted, never buffered.
                sim.send_garbage(b"Event: Huge\r\nData: " + b"h" * (3 << 20) + TERMINATOR)
            await sim.replay(AMI_DIR / f"{traces[0]}.ami", pace="max").wait()
            sim.send_garbage(between)
            await sim.replay(AMI_DIR / f"{traces[1]}.ami", pace="max").wait()
            sim.send_garbage(last)
            # A bad frame of our own last: once it is counted, everything before it was read.
            sim.send_garbage(b"end of the garbage\r\n\r\n")
            want = sorted((c for t in traces for c in expected_calls()[t]), key=_order)

            async def logged() -> bool:
                calls = [c for c in await calls_of(db, pbx) if c.direction != "internal"]
                return len(calls) >= len(want) and all(c.ended_at for c in calls)

            await eventually(logged)
            calls = [c for c in await calls_of(db, pbx) if c.direction != "internal"]
            assert sorted((as_expected(c) for c in calls), key=_order) == want
            bad = sum(1 for _ in _bad_frames(first + between + last)) + int(huge) + 1

            async def counted() -> bool:
                # The last garbage may still be on its way when the calls are stored.
                return bool(protocol.malformed >= bad)

            await eventually(counted)
            # The same connection all along: no garbage made it drop or resync.
            assert listener._manager is not None and listener._manager.protocol is protocol
            assert listener.health.resyncs == resyncs
            assert listener.health.status == "connected"
        finally:
            await listener.stop()


def _order(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def _bad_frames(data: bytes) -> list[FrameError]:
    return [f for f in FrameParser().feed(data) if isinstance(f, FrameError)]
