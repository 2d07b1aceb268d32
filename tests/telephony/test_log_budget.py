"""Bad AMI frames are all counted, but only so many are logged a minute."""

from __future__ import annotations

import logging

import pytest

from telephony import protocol
from telephony.framing import FrameError
from telephony.protocol import LogBudget, TamasAMIProtocol


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_bad_frames_is_counted_whole_and_logged_in_part(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    monkeypatch.setattr(protocol.time, "monotonic", clock)
    proto = TamasAMIProtocol.__new__(TamasAMIProtocol)
    proto.malformed = 0
    proto.log_budget = LogBudget(most=3, window=60.0)
    with caplog.at_level(logging.WARNING, logger="telephony.protocol"):
        for _ in range(50):
            proto._frame_received(FrameError("no colon", 8), None, 0.0)
        assert proto.malformed == 50
        assert [r.getMessage() for r in caplog.records] == [
            "skipped a malformed AMI frame: no colon"
        ] * 3
        caplog.clear()
        clock.now += 61
        proto._frame_received(FrameError("no colon", 8), None, 0.0)
    assert [r.getMessage() for r in caplog.records] == [
        "47 more bad AMI frames were not logged in the last 60 s",
        "skipped a malformed AMI frame: no colon",
    ]
    assert proto.malformed == 51
