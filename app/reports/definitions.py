"""What each KPI figure means, written once: every table and chart of the reports (each
grouping, the totals) and the wallboard's figures of the day count with these conditions, so
two of them can never disagree about the same calls.

Counted over stored calls that are over (not ``live``), by when they started:

- **offered**: inbound calls. For an agent: the inbound calls that rang one of their phones
  or that they answered (a call that rang three agents is offered to each of the three, once
  to the team).
- **answered**: offered calls answered (for an agent: answered by them).
- **short abandoned**: offered calls the caller gave up on within ``short_abandon_seconds``
  of waiting (never really offered: left out of the service level's base).
- **abandoned**: offered calls the caller gave up on later than that.
- **missed**: offered calls neither answered nor abandoned: ring timeout, busy, the queue's
  timeout. For an agent this is their **ring-no-answer**: calls that rang them and that
  they did not answer (a colleague may have answered it afterwards).
  So offered = answered + short abandoned + abandoned + missed, in every row. Apart by
  reason (``missed_no_answer``, ``missed_declined``, ``missed_busy``: the call's
  ``missed_reason``), of the missed calls that nobody served.
- **service level**: answered within ``service_level_seconds`` of waiting, in % of
  (offered - short abandoned).
- **ASA** (average speed of answer): mean wait of the answered calls; **longest wait**: of
  all the offered calls.
- **average talk / handle** (talk + hold) time: of the answered calls; **talk total**: of
  every answered call, outbound ones included (for an agent: the calls they answered).
- **outbound** calls, and how many of them were answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, not_, or_

from app.models import Call
from telephony.model import MISSED_REASONS

OFFERED_DIRECTION = "inbound"


@dataclass(frozen=True)
class Thresholds:
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5


class Figures:
    """The figures' SQL aggregates over rows of ``calls``. ``agent``: the column holding the
    agent each row counts for (a call counted once per agent it was offered to), or None
    for calls counted once each."""

    def __init__(self, thresholds: Thresholds, agent: Any = None) -> None:
        self.t = thresholds
        self.agent = agent

    def conditions(self) -> dict[str, Any]:
        t = self.t
        offered = Call.direction == OFFERED_DIRECTION
        answered_call = Call.outcome == "answered"
        if self.agent is not None:
            answered_call = and_(answered_call, Call.answered_by_user_id == self.agent)
        answered = and_(offered, answered_call)
        gave_up = and_(offered, Call.outcome == "abandoned")
        short = and_(gave_up, Call.wait_seconds < t.short_abandon_seconds)
        abandoned = and_(gave_up, Call.wait_seconds >= t.short_abandon_seconds)
        missed = and_(offered, not_(answered_call), Call.outcome != "abandoned")
        outbound = Call.direction == "outbound"
        talked = Call.outcome == "answered"
        if self.agent is not None:
            talked = and_(talked, or_(Call.answered_by_user_id == self.agent, outbound))
        return {
            "offered": offered,
            "answered": answered,
            "short_abandoned": short,
            "abandoned": abandoned,
            "missed": missed,
            "in_sl": and_(answered, Call.wait_seconds <= t.service_level_seconds),
            "outbound": outbound,
            "outbound_answered": and_(outbound, Call.outcome == "answered"),
            "talked": talked,
        }

    def columns(self) -> list[Any]:
        c = self.conditions()

        def count(cond: Any) -> Any:
            return func.count().filter(cond)

        return [
            count(c["offered"]).label("offered"),
            count(c["answered"]).label("answered"),
            count(c["abandoned"]).label("abandoned"),
            count(c["short_abandoned"]).label("short_abandoned"),
            count(c["missed"]).label("missed"),
            *(
                count(
                    and_(c["missed"], Call.outcome == "missed", Call.missed_reason == reason)
                ).label(f"missed_{reason}")
                for reason in MISSED_REASONS
            ),
            count(c["in_sl"]).label("answered_in_sl"),
            func.avg(Call.wait_seconds).filter(c["answered"]).label("asa"),
            func.max(Call.wait_seconds).filter(c["offered"]).label("longest_wait"),
            func.avg(Call.talk_seconds).filter(c["answered"]).label("avg_talk"),
            func.avg(Call.talk_seconds + Call.hold_seconds)
            .filter(c["answered"])
            .label("avg_handle"),
            count(c["outbound"]).label("outbound"),
            count(c["outbound_answered"]).label("outbound_answered"),
            func.sum(Call.talk_seconds).filter(c["talked"]).label("talk_total"),
        ]


def figures(r: dict[str, Any]) -> dict[str, Any]:
    """A row of :meth:`Figures.columns` as the API gives it."""
    base = r["offered"] - r["short_abandoned"]
    return {
        "offered": r["offered"],
        "answered": r["answered"],
        "abandoned": r["abandoned"],
        "short_abandoned": r["short_abandoned"],
        "missed": r["missed"],
        **{f"missed_{reason}": r[f"missed_{reason}"] for reason in MISSED_REASONS},
        "service_level_pct": service_level(r["answered_in_sl"], base),
        "asa_seconds": _round(r["asa"]),
        "longest_wait_seconds": _round(r["longest_wait"]),
        "avg_talk_seconds": _round(r["avg_talk"]),
        "avg_handle_seconds": _round(r["avg_handle"]),
        "talk_total_seconds": _round(r["talk_total"]) or 0.0,
        "outbound": r["outbound"],
        "outbound_answered": r["outbound_answered"],
    }


def service_level(answered_in_sl: int, base: int) -> float | None:
    """Answered within the threshold, in % of the calls really offered (None: none)."""
    return round(100.0 * answered_in_sl / base, 1) if base else None


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
