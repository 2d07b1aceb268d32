"""Post-call surveys: the caller's answers (1 to 5) to one or two questions, keyed in at
the IVR after the agent hangs up (asterisk-dev/etc/asterisk/extensions_tamas.conf,
[tamas-survey]) or given on the page an SMS link opens; stored on the call and on the agent
who answered it. CSAT: the share of answers that are 4 or 5, per agent, queue or period."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import NotFound
from app.integrations import events as ev
from app.integrations.service import emit
from app.messaging.service import MessagingService, Text
from app.models import Call, SurveyAnswer
from app.surveys.repository import SurveyRepository

QUESTIONS = (1, 2)
CsatBy = Literal["agent", "queue", "day", "week", "hour"]


def parse_answer(value: str | None) -> int | None:
    """A DTMF answer: one digit 1 to 5 (Persian digits too); anything else is no answer."""
    if value is None:
        return None
    value = value.strip().translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    return int(value) if len(value) == 1 and value in "12345" else None


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"tamas-survey-link\0" + secret.encode()).digest()


def link_token(secret: str, call_id: int, expires: int) -> str:
    """A link for one call's survey, good until ``expires`` (Unix time): the call id and
    the time, signed (HMAC-SHA256, 16 bytes), URL-safe."""
    payload = struct.pack(">QI", call_id, expires)
    mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def read_token(secret: str, token: str, now: float | None = None) -> int:
    """The call id of a valid, unexpired link token (else NotFound: no hint which)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise NotFound("this survey link is not valid") from None
    if len(raw) != 28:
        raise NotFound("this survey link is not valid")
    payload, mac = raw[:12], raw[12:]
    if not hmac.compare_digest(mac, hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]):
        raise NotFound("this survey link is not valid")
    call_id, expires = struct.unpack(">QI", payload)
    if (time.time() if now is None else now) > expires:
        raise NotFound("this survey link has expired")
    return int(call_id)


@dataclass(frozen=True)
class Stored:
    found: bool
    stored: int
    call_id: int | None = None
    reason: str = ""  # why nothing could be stored ("" when something could)


class SurveyService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = SurveyRepository(session)

    async def from_pbx(self, pbx: str, linkedid: str, answers: dict[int, int]) -> Stored:
        call = await self.repo.call_by_linkedid(pbx, linkedid)
        if call is None:
            return Stored(False, 0, reason="no such call")
        return await self._store(call, answers, "ivr")

    async def from_link(self, token: str, answers: dict[int, int]) -> Stored:
        call = await self.call_of_link(token)
        return await self._store(call, answers, "sms")

    async def _store(self, call: Call, answers: dict[int, int], channel: str) -> Stored:
        """The answers on the call and its agent, and survey.answered for integrators in
        the same transaction (only what was stored now: a repeated post sends nothing)."""
        if call.answered_at is None or call.answered_by_user_id is None:
            # Nobody to rate: the survey follows an agent's answer.
            return Stored(True, 0, call.id, reason="the call was not answered by an agent")
        rows = await self.repo.store(call, answers, channel)
        if rows:
            data = {
                # A call has one survey: it is named by the call.
                "survey_id": call.id,
                "call_id": call.id,
                "customer_id": await self.repo.customer_of(call.id),
                "number": call.customer_e164 or "",
                "agent_user_id": call.answered_by_user_id,
                "queue": call.queue,
                "channel": channel,
                "answers": [{"question": f"q{r.question}", "answer": r.score} for r in rows],
            }
            await emit(self.session, [ev.envelope(ev.SURVEY_ANSWERED, data)])
        return Stored(True, len(rows), call.id)

    async def call_of_link(self, token: str) -> Call:
        call_id = read_token(self.settings.secret_key.get_secret_value(), token)
        call = await self.session.get(Call, call_id)
        if call is None:
            raise NotFound("this survey link is not valid")
        return call

    def link(self, call_id: int) -> str:
        expires = int(time.time()) + self.settings.survey_link_days * 86400
        token = link_token(self.settings.secret_key.get_secret_value(), call_id, expires)
        return f"{self.settings.public_url.rstrip('/')}/survey/{token}"

    async def of_call(self, call_id: int) -> list[SurveyAnswer]:
        return await self.repo.of_call(call_id)

    async def queue_links(self, messaging: MessagingService) -> int:
        """A survey link for answered inbound calls that ended survey_link_delay_minutes ago
        (within the half hour before) with no IVR answer; each call once."""
        if not await messaging.enabled("survey_link"):
            return 0
        now = datetime.now(UTC)
        until = now - timedelta(minutes=self.settings.survey_link_delay_minutes)
        queued = 0
        for call_id, number, agent, customer_id, name in await self.repo.owed_links(
            until - timedelta(minutes=30), until, 500
        ):
            found = await messaging.queue(
                Text(
                    "survey_link",
                    f"survey_link:{call_id}",
                    number,
                    {"name": name, "agent": agent, "link": self.link(call_id)},
                    customer_id=customer_id,
                    call_id=call_id,
                )
            )
            queued += found is not None
        return queued

    async def csat(
        self,
        start: datetime,
        end: datetime,
        by: CsatBy,
        *,
        queue: str | None = None,
        agent_id: int | None = None,
        week_starts: Literal["saturday", "monday"] = "saturday",
    ) -> list[dict[str, Any]]:
        local = func.timezone(self.settings.time_zone, SurveyAnswer.answered_at)
        key: Any
        if by == "agent":
            key = SurveyAnswer.agent_user_id
        elif by == "queue":
            key = SurveyAnswer.queue
        elif by == "day":
            key = func.to_char(func.date_trunc("day", local), "YYYY-MM-DD")
        elif by == "hour":
            key = func.to_char(func.date_trunc("hour", local), "YYYY-MM-DD HH24:00")
        else:
            shift = 2 if week_starts == "saturday" else 0
            day = func.date_trunc("day", local)
            key = func.to_char(
                func.date_trunc("week", day + func.make_interval(0, 0, 0, shift))
                - func.make_interval(0, 0, 0, shift),
                "YYYY-MM-DD",
            )
        rows = await self.repo.csat(start, end, key, queue=queue, agent_id=agent_id)
        names = await self.repo.names([r["key"] for r in rows]) if by == "agent" else {}
        return [
            {
                "key": r["key"] if r["key"] is not None else "",
                "label": names.get(r["key"], str(r["key"] if r["key"] is not None else "")),
                "answers": r["answers"],
                "calls": r["calls"],
                "satisfied": r["satisfied"],
                "csat_pct": round(100.0 * r["satisfied"] / r["answers"], 1)
                if r["answers"]
                else None,
                "avg_score": _round(r["avg"]),
                "q1_avg": _round(r["q1"]),
                "q2_avg": _round(r["q2"]),
            }
            for r in rows
        ]


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)
