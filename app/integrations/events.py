"""The events integrators get (webhooks and the event stream): their types and the versioned
envelope every one of them travels in. Pure functions: no I/O.

Each payload is ``{"version": 1, "id": <uuid>, "type": ..., "created_at": <ISO 8601>,
"data": {...}}``; the JSON Schema of each type's payload is in ``payloads/`` beside this
file. A change that could break a receiver bumps ``version``; new optional fields do not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from telephony.model import CallEvent, CallSnapshot

VERSION = 1

CALL_RINGING = "call.ringing"
CALL_ANSWERED = "call.answered"
CALL_ENDED = "call.ended"
RECORDING_READY = "recording.ready"
TRACKING_CODE_CREATED = "tracking_code.created"
TRACKING_CODE_CHANGED = "tracking_code.changed"
CALLBACK_CREATED = "callback.created"
SURVEY_ANSWERED = "survey.answered"

EVENT_TYPES = (
    CALL_RINGING,
    CALL_ANSWERED,
    CALL_ENDED,
    RECORDING_READY,
    TRACKING_CODE_CREATED,
    TRACKING_CODE_CHANGED,
    CALLBACK_CREATED,
    SURVEY_ANSWERED,
)

# The tracker's event kinds that integrators hear of, and as what.
_CALL_KINDS = {"ringing": CALL_RINGING, "answered": CALL_ANSWERED, "ended": CALL_ENDED}


class Event(dict[str, Any]):
    """An envelope: a dict as it is sent, with its type and id at hand."""

    @property
    def type(self) -> str:
        return str(self["type"])

    @property
    def id(self) -> str:
        return str(self["id"])


def envelope(event_type: str, data: dict[str, Any], at: datetime | None = None) -> Event:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return Event(
        version=VERSION,
        id=str(uuid.uuid4()),
        type=event_type,
        created_at=(at or datetime.now(UTC)).isoformat(),
        data=data,
    )


def _iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


def _call_data(event: CallEvent, call_id: int, customers: Sequence[int]) -> dict[str, Any]:
    call = event.call
    data: dict[str, Any] = {
        "call_id": call_id,
        "pbx": call.pbx,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "number": call.customer_number,
        "e164": call.customer_e164,
        "caller_name": call.caller_name,
        "did": call.did,
        "queue": call.queue,
        "customer_ids": list(customers),
        "device": event.device,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "answered_by": call.answered_by,
        "origination": call.origination,
    }
    if event.kind == "ended":
        data["log"] = call_log(call)
    return data


def call_log(call: CallSnapshot) -> dict[str, Any]:
    """The call as it is stored once over (what ``GET /api/calls/{id}`` shows of it)."""
    return {
        "outcome": call.outcome,
        "ended_at": _iso(call.ended_at),
        "queue_joined_at": _iso(call.queue_joined_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "hangup_cause": call.hangup_cause,
        "hangup_cause_text": call.hangup_cause_text,
        "hung_up_by": call.hung_up_by,
        "end_reason": call.end_reason,
        "recordings": list(call.recordings),
        "rings": [
            {
                "device": r.device,
                "extension": r.extension,
                "at": _iso(r.at),
                "answered_at": _iso(r.answered_at),
                "ended_at": _iso(r.ended_at),
                "result": r.result,
            }
            for r in call.rings
        ],
        "transfers": [
            {"kind": t.kind, "from_device": t.from_device, "to": t.to, "at": _iso(t.at)}
            for t in call.transfers
        ],
    }


def call_events(
    events: Sequence[CallEvent],
    call_ids: dict[tuple[str, str], int],
    holders: dict[str, list[int]],
) -> list[Event]:
    """The integrators' events of a batch of the tracker's: each agent's phone ringing, the
    answer and the end (with the call's log), in the batch's order."""
    out = []
    for event in events:
        event_type = _CALL_KINDS.get(event.kind)
        key = (event.pbx, event.call.linkedid)
        if event_type is None or key not in call_ids:
            continue
        e164 = event.call.customer_e164
        customers = holders.get(e164, []) if e164 else []
        out.append(envelope(event_type, _call_data(event, call_ids[key], customers)))
    return out


def tracking_code_data(
    code: Any, *, call_id: int | None = None, change: str = "created"
) -> dict[str, Any]:
    """A tracking code (``app.models.TrackingCode``) as its events carry it."""
    return {
        "code": code.code,
        "status": code.status,
        "subject": code.subject,
        "customer_id": code.customer_id,
        "owner_user_id": code.owner_user_id,
        "automatic": code.automatic,
        "call_id": call_id,
        "change": change,
    }
