"""The pause and unpause Tamas sent to a real Asterisk (trace L6_paused_queue: reza paused
from the API, a queue call, reza unpaused): the member reader sees the pause with its reason
in each of reza's queues before the call, the queue rings only the others, and the unpause
after it."""

from __future__ import annotations

from telephony import members
from tests.telephony.replay import trace_events
from tests.telephony.traces import trace_facts

NAME = "L6_paused_queue"


def test_a_paused_agent_is_not_rung_and_is_seen_paused_then_available() -> None:
    seen: list[tuple[str, str, bool, str]] = []  # (event, queue, paused, reason) of 1002
    called: list[str] = []
    for event in trace_events(NAME, "dev"):
        signal = members.signal_from_event(event)
        if signal is not None and signal.kind == "called":
            called.append(signal.interface)
            seen.append(("AgentCalled", signal.queue, False, signal.interface))
        state = members.member_from_event(event)
        if state is not None and state.interface == "PJSIP/1002":
            seen.append((event.name, state.queue, state.paused, state.paused_reason))
    pauses = [s for s in seen if s[0] == "QueueMemberPause"]
    assert pauses == [
        ("QueueMemberPause", "support-vip", True, "break"),
        ("QueueMemberPause", "support", True, "break"),
        ("QueueMemberPause", "support-vip", False, ""),
        ("QueueMemberPause", "support", False, ""),
    ]
    first_call = seen.index(next(s for s in seen if s[0] == "AgentCalled"))
    assert seen.index(pauses[1]) < first_call < seen.index(pauses[2])
    # Every state of 1002 between the pause and the unpause says paused.
    between = seen[seen.index(pauses[1]) : seen.index(pauses[2])]
    assert all(s[2] for s in between if s[0] != "AgentCalled")
    assert sorted(called) == ["PJSIP/1001", "PJSIP/1003"]
    assert trace_facts(NAME)["crm_call_log"]["agents_rung"] == ["1001", "1003"]
