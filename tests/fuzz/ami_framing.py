"""A coverage-guided fuzzer (atheris, libFuzzer) for the AMI framing and Tamas's AMI protocol,
for long local runs; the hypothesis tests in tests/telephony/test_framing_fuzz.py are what
CI runs. Not collected by pytest (no ``test_`` prefix). Run::

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python tests/fuzz/ami_framing.py -atheris_runs=2000000 -max_len=20000

(any libFuzzer flag works: ``-max_total_time=600``, a corpus folder as the last argument).
It checks what the hypothesis tests check, on whatever bytes the fuzzer finds: the parser
never raises, its buffer stays bounded, how the stream is cut into reads changes nothing, and
the protocol never lets an exception out of ``data_received`` (asyncio would close the
connection).
"""

from __future__ import annotations

import itertools
import logging
import sys
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from telephony.framing import MAX_BANNER, Frame, FrameError, FrameParser
    from telephony.protocol import TamasAMIProtocol

# The protocol logs every bad frame; millions of runs need silence.
logging.disable(logging.CRITICAL)


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _Factory:
    def __init__(self) -> None:
        self.forgetable_actions: tuple[str, ...] = ()
        self.awaiting_actions: list[Any] = []

    def on_event_frame(self, frame: Any, received_at: float) -> None:
        pass

    def dispatch(self, message: Any) -> None:
        pass

    def connection_lost(self, exc: Any) -> None:
        pass


def _comparable(frames: list[Frame]) -> list[object]:
    return ["FrameError" if isinstance(f, FrameError) else f for f in frames]


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    limit = provider.ConsumeIntInRange(16, 4096)
    cuts = sorted(provider.ConsumeIntListInRange(provider.ConsumeIntInRange(0, 16), 0, 1 << 16))
    stream = provider.ConsumeBytes(provider.remaining_bytes())

    whole = FrameParser(max_message=limit).feed(stream)
    parser = FrameParser(max_message=limit)
    frames: list[Frame] = []
    edges = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    for start, end in itertools.pairwise(edges):
        frames.extend(parser.feed(stream[start:end]))
        if parser.pending > max(limit + 3, MAX_BANNER):
            raise AssertionError(f"buffer grew to {parser.pending} bytes (limit {limit})")
    if _comparable(frames) != _comparable(whole):
        raise AssertionError("the frames depend on how the stream was cut")

    protocol = TamasAMIProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = _Factory()
    protocol.parser = FrameParser(max_message=limit)
    for start, end in itertools.pairwise(edges):
        protocol.data_received(stream[start:end])


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
