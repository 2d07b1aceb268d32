"""Why a click-to-call did not connect, from what the PBX said (pure, no I/O).

Two sources: the ``OriginateResponse`` (how the agent's own phone, the first leg, went) and,
once the agent has answered, the customer leg's dial status and hangup cause. The codes are
what the panel and the API show; ``FAILURES`` has their English wording.
"""

from __future__ import annotations

from telephony.model import CallSnapshot, Leg, OriginateOutcome

FAILURES = {
    "device_offline": "your phone is offline or unreachable",
    "agent_no_answer": "you did not answer your phone",
    "agent_busy": "your phone is busy",
    "agent_rejected": "your phone declined the call",
    "customer_busy": "the customer is busy",
    "customer_no_answer": "the customer did not answer",
    "invalid_number": "the number is invalid or not in service",
    "congestion": "the network is congested; try again",
    "cancelled": "you hung up before the customer answered",
    "failed": "the call could not be placed",
    # Before any call: the Originate itself did not get through.
    "pbx_unavailable": "the PBX cannot be reached",
    "pbx_refused": "the PBX refused the call",
}

# The OriginateResponse Reason (an AST_CONTROL code, see pbx_outgoing.c's pbx_dial_reason).
_RESPONSE_REASONS = {
    "0": "device_offline",  # no channel could be made: unregistered, unreachable
    "1": "agent_rejected",  # hung up (declined) while ringing
    "3": "agent_no_answer",  # rang until the timeout
    "5": "agent_busy",
    "8": "congestion",
}
# Q.931 causes on the agent's leg before it answered.
_AGENT_CAUSES = {
    "17": "agent_busy",
    "21": "agent_rejected",
    "18": "agent_no_answer",
    "19": "agent_no_answer",
    "20": "device_offline",  # subscriber absent (not registered)
    "27": "device_offline",  # destination out of order
    "38": "device_offline",
}
_CUSTOMER_DIAL_STATUS = {
    "BUSY": "customer_busy",
    "NOANSWER": "customer_no_answer",
    "CONGESTION": "congestion",
    "CANCEL": "cancelled",
}
_CUSTOMER_CAUSES = {
    "17": "customer_busy",
    "18": "customer_no_answer",
    "19": "customer_no_answer",
    "1": "invalid_number",  # unallocated number
    "3": "invalid_number",  # no route to destination
    "22": "invalid_number",  # number changed
    "28": "invalid_number",  # invalid number format
    "34": "congestion",
    "38": "congestion",
    "41": "congestion",
    "42": "congestion",
    "44": "congestion",
}


def failure_of_response(outcome: OriginateOutcome) -> str:
    """The failure an unsuccessful OriginateResponse reports ("" when it succeeded)."""
    if outcome.success:
        return ""
    return _RESPONSE_REASONS.get(outcome.reason, "failed")


def _agent_failure(agent: Leg | None, reason: str) -> str:
    """Why the agent's own phone did not take the call: its channel's own hangup cause and
    dial status first (a phone that answers 486 or 603 rang: busy, declined); then the
    OriginateResponse's Reason, whose 0 ("failed") means offline only when no channel was
    made at all."""
    if agent is None:
        return _RESPONSE_REASONS.get(reason, "agent_no_answer")
    if agent.hangup_cause in _AGENT_CAUSES:
        return _AGENT_CAUSES[agent.hangup_cause]
    if agent.dial_status == "BUSY":
        return "agent_busy"
    if agent.dial_status == "NOANSWER":
        return "agent_no_answer"
    if reason == "0":
        return "failed"
    return _RESPONSE_REASONS.get(reason, "agent_no_answer")


def failure_of_call(call: CallSnapshot) -> str:
    """Why an ended click-to-call did not connect ("" if it did, or is still up)."""
    if call.ended_at is None or call.outcome == "answered":
        return ""
    legs = sorted(call.legs, key=lambda leg: leg.created_at)
    agent: Leg | None = legs[0] if legs else None
    if agent is None or agent.answered_at is None:
        return _agent_failure(agent, call.originate_reason)
    customer = [leg for leg in legs[1:] if not leg.internal] or legs[1:]
    for leg in customer:
        if leg.hangup_cause in _CUSTOMER_CAUSES:
            return _CUSTOMER_CAUSES[leg.hangup_cause]
    for status in [call.dial_status, *(leg.dial_status for leg in legs)]:
        if status in _CUSTOMER_DIAL_STATUS:
            return _CUSTOMER_DIAL_STATUS[status]
        if status == "CHANUNAVAIL":
            return "invalid_number"
    if not customer:
        # The agent answered and hung up before any customer leg existed.
        return "cancelled" if agent.hangup_cause in ("16", "") else "failed"
    return "failed"
