"""A PBX that speaks the real AMI wire protocol, for the demo, the tests and load.

``AmiSimulator`` listens on a TCP port and answers like Asterisk 22; it replays recorded
``.ami`` streams, generates calls from recorded templates, and breaks on command. The
``tamas pbx-sim`` command runs one on its own.
"""

from telephony.simulator.generator import GeneratedCall, Traffic, TrafficOptions
from telephony.simulator.originate import OUTCOMES, OriginateRequest
from telephony.simulator.replay import Replay
from telephony.simulator.server import DEFAULT_TRACE_DIR, AmiSimulator
from telephony.simulator.state import DEFAULT_AGENTS, Agent, PbxState
from telephony.simulator.templates import SCENARIOS
from telephony.simulator.trace import Recording

__all__ = [
    "DEFAULT_AGENTS",
    "DEFAULT_TRACE_DIR",
    "OUTCOMES",
    "SCENARIOS",
    "Agent",
    "AmiSimulator",
    "GeneratedCall",
    "OriginateRequest",
    "PbxState",
    "Recording",
    "Replay",
    "Traffic",
    "TrafficOptions",
]
