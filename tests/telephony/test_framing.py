from __future__ import annotations

import random

import pytest

from telephony.framing import Banner, FrameError, FrameParser, Message, parse_message
from tests.telephony.traces import trace_bytes, trace_chunks

PERSIAN_TRACES = ["A1_persian_name_direct_answered", "A4_persian_name_queue_answered"]


def frames_of(data: bytes) -> list[object]:
    return FrameParser().feed(data)


@pytest.mark.parametrize("name", PERSIAN_TRACES)
def test_persian_names_arrive_intact_in_the_recorded_chunks(name: str) -> None:
    parser = FrameParser()
    frames = []
    for chunk, _ in trace_chunks(name):
        frames.extend(parser.feed(chunk))
    assert frames == frames_of(trace_bytes(name))
    assert isinstance(frames[0], Banner) and frames[0].version == "11.0.0"
    names = {
        f.get("CallerIDName")
        for f in frames
        if isinstance(f, Message) and f.get("Channel").startswith("PJSIP/trunk")
    }
    assert names & {"علی رضایی", "مریم حسینی"}
    assert not any(isinstance(f, Message) and f.bad_utf8 for f in frames)
    assert not any(isinstance(f, FrameError) for f in frames)
    assert parser.pending == 0


@pytest.mark.parametrize("name", PERSIAN_TRACES)
def test_a_cut_at_every_byte_offset_changes_nothing(name: str) -> None:
    data = trace_bytes(name)
    # Every offset of the region that holds the Persian names (whole messages around the
    # first one), plus the whole stream fed one byte at a time.
    first = data.index("ی".encode())
    start = data.rfind(b"\r\n\r\n", 0, first) + 4
    end = data.index(b"\r\n\r\n", data.index(b"\r\n\r\n", first) + 4) + 4
    region = data[start:end]
    whole = frames_of(b"Asterisk Call Manager/11.0.0\r\n" + region)
    assert sum(isinstance(f, Message) for f in whole) == 2
    banner = b"Asterisk Call Manager/11.0.0\r\n" + region
    for cut in range(len(banner) + 1):
        parser = FrameParser()
        assert parser.feed(banner[:cut]) + parser.feed(banner[cut:]) == whole, cut

    parser = FrameParser()
    one_by_one = [f for i in range(len(data)) for f in parser.feed(data[i : i + 1])]
    assert one_by_one == frames_of(data)


def test_random_cuts_of_the_full_stream() -> None:
    data = trace_bytes("A4_persian_name_queue_answered")
    whole = frames_of(data)
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 40)))
        parser = FrameParser()
        frames = []
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            frames.extend(parser.feed(data[a:b]))
        assert frames == whole


def test_message_access() -> None:
    msg = parse_message(
        b"Response: Follows\r\nActionID: 7\r\nOutput: line one\r\nOutput: line two\r\n"
        b"AccountCode: \r\nCallerIDName: <unknown>\r\nValue: a: b"
    )
    assert isinstance(msg, Message)
    assert msg.response == "Follows"
    assert msg.get("actionid") == "7" and msg.action_id == "7"
    assert msg.getall("Output") == ["line one", "line two"]
    assert msg.get("AccountCode") == ""
    assert "accountcode" in msg
    assert msg.get("Missing", "-") == "-"
    assert msg.get("Value") == "a: b"


def test_malformed_frames_are_reported_and_the_stream_goes_on() -> None:
    parser = FrameParser(max_message=1000)
    frames = parser.feed(
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Event: Good\r\nA: 1\r\n\r\n"
        b"this line has no colon at all\r\n\r\n"
        b"\r\n"  # a stray empty line between messages
        b"Event: Latin1\r\nCallerIDName: \xe9t\xe9\r\n\r\n"
        b"Event: Partly\r\nno colon here\r\nB: 2\r\n\r\n"
    )
    kinds = [type(f).__name__ for f in frames]
    assert kinds == ["Banner", "Message", "FrameError", "Message", "Message"]
    latin1 = frames[3]
    assert isinstance(latin1, Message) and latin1.bad_utf8
    assert latin1.get("CallerIDName") == "\ufffdt\ufffd"
    partly = frames[4]
    assert isinstance(partly, Message) and partly.stray_lines == ("no colon here",)

    # A message that never ends is dropped once it passes the limit; the next one is whole.
    frames = parser.feed(b"Event: Huge\r\nData: " + b"x" * 5000)
    assert len(frames) == 1 and isinstance(frames[0], FrameError)
    frames = parser.feed(b"y" * 100 + b"\r\n\r\nEvent: After\r\n\r\n")
    assert [f.event for f in frames if isinstance(f, Message)] == ["After"]
    assert parser.pending == 0


def test_no_banner_is_fine_and_reset_expects_one_again() -> None:
    parser = FrameParser()
    assert [type(f) for f in parser.feed(b"Event: X\r\n\r\n")] == [Message]
    parser.reset()
    frames = parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n")
    assert [type(f) for f in frames] == [Banner, Message]
