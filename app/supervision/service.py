"""Supervisors acting on the floor: joining an agent's live call (listen, whisper, barge)
and pausing or moving agents between queues.

Listening rings the supervisor's own phone with an ``Originate`` into the PBX's spy context
(``[tamas-spy]``: ``ChanSpy`` with ``q``, so the agent is never told), the agent's channel in
``TAMAS_SPY_CHANNEL``. The edge commits the session first (the PBX's answer may reach another
instance within milliseconds), then sends the action; the ``OriginateResponse`` and the end
of the supervisor's channel come with the PBX's events, on the instance that follows it
(:meth:`SupervisionService.track`, inside the transaction that stores them).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.service import AgentService
from app.config import PbxSettings, Settings
from app.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from app.models import Role, SpySession, User
from app.supervision.repository import SupervisionRepository
from telephony.model import SPY_VARIABLE, CallEvent, OriginateOutcome
from telephony.originate import FAILURES, failure_of_response

SPY_PREFIX = "tamas-spy-"
# What a channel name may hold before it goes into the dialplan (PJSIP/1001-0000002a).
_CHANNEL = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@:+#*-]+$")
_CALLERID_UNSAFE = re.compile(r'["<>\\\r\n,;]')

MODE_WORDS = {"listen": "Listen", "whisper": "Whisper", "barge": "Barge"}


class NoLiveCall(DomainError):
    status_code = 404
    code = "no_live_call"


def failure_text(code: str) -> str:
    if code == "device_offline":
        return "your phone is offline or unreachable"
    return FAILURES.get(code, code)


def session_seconds(spy: SpySession) -> float | None:
    if spy.ended_at is None or spy.answered_at is None:
        return None
    return round((spy.ended_at - spy.answered_at).total_seconds(), 1)


class SupervisionService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = SupervisionRepository(session)
        self.configs = {p.id: p for p in settings.pbxes}

    # -- listening ---------------------------------------------------------------------------

    async def prepare_spy(
        self, supervisor: User, agent_id: int, mode: str, device: str | None
    ) -> tuple[SpySession, dict[str, Any]]:
        """Check, store the session (``requested``) and return it with the Originate to send
        once it is committed."""
        own = [d.device for d in supervisor.devices]
        if device is None:
            if not own:
                raise InvalidInput(
                    "you have no phone set up in Tamas: ask an admin to add your device",
                    field="device",
                )
            device = own[0]
        elif device not in own:
            raise InvalidInput("ring one of your own phones", field="device")
        agent = await self.repo.user(agent_id)
        if agent is None or not agent.is_active:
            raise NotFound("no such agent", field="agent_id")
        if agent.id == supervisor.id:
            raise InvalidInput("you cannot listen to your own call", field="agent_id")
        legs = await self.repo.live_legs(agent.id)
        if not legs:
            raise NoLiveCall(f"{_name(agent)} has no call up now (it may have just ended)")
        answered = [(leg, call) for leg, call in legs if leg.answered_at is not None]
        if not answered:
            raise Conflict(
                f"{_name(agent)}'s call is not answered yet: listen once it is",
                code="call_not_answered",
            )
        leg, call = answered[0]
        config = self.configs.get(leg.pbx)
        if config is None:
            raise Conflict(f"the call is on PBX {leg.pbx!r}, which is not set up any more")
        if not _CHANNEL.match(leg.channel):
            raise Conflict(f"the agent's channel {leg.channel!r} cannot be spied on")
        spy = await self.repo.add(
            SpySession(
                ref=f"{SPY_PREFIX}{secrets.token_hex(10)}",
                pbx=leg.pbx,
                supervisor_user_id=supervisor.id,
                agent_user_id=agent.id,
                call_id=call.id,
                mode=mode,
                agent_channel=leg.channel,
                supervisor_device=device,
                state="requested",
                failure="",
                uniqueid="",
            )
        )
        return spy, self.spy_action(spy, config, agent)

    def spy_action(self, spy: SpySession, config: PbxSettings, agent: User) -> dict[str, Any]:
        """The Originate: the supervisor's phone rings, showing whom it is about; answered,
        it runs the spy context's extension for the mode on the agent's channel."""
        shown = _CALLERID_UNSAFE.sub(" ", f"{MODE_WORDS[spy.mode]}: {_name(agent)}")[:40]
        extension = next((d.device.partition("/")[2] for d in agent.devices), "") or "s"
        return {
            "Action": "Originate",
            "ActionID": spy.ref,
            "Channel": spy.supervisor_device,
            "Context": config.spy_context,
            "Exten": spy.mode,
            "Priority": "1",
            "Timeout": str(config.originate_ring_seconds * 1000),
            "CallerID": f'"{shown.strip()}" <{extension}>',
            "Async": "true",
            "Variable": [f"{SPY_VARIABLE}={spy.agent_channel}"],
        }

    async def refused(self, spy_id: int, code: str) -> None:
        spy = await self.repo.get(spy_id)
        if spy is not None:
            spy.state, spy.failure = "failed", code[:32]
            spy.ended_at = datetime.now(UTC)
            await self.session.flush()

    async def prepare_stop(
        self, supervisor: User, spy_id: int
    ) -> tuple[SpySession, dict[str, Any]]:
        """Check that the session can be ended from here (the supervisor who started it, or
        an admin; it is up) and return the ``Hangup`` of the supervisor's own channel. The
        end itself is the PBX's word: the channel's Hangup event closes the session."""
        spy = await self.get(spy_id)
        if spy.supervisor_user_id != supervisor.id and supervisor.role != Role.admin.value:
            raise PermissionDenied("only the supervisor listening (or an admin) can end this")
        if spy.state == "requested":
            raise Conflict(
                "your phone has not answered yet: decline the call on it", code="spy_not_answered"
            )
        if spy.state != "active" or not spy.channel:
            raise Conflict("this session has ended already", code="spy_ended")
        spy.stopped_by_user_id = supervisor.id
        await self.session.flush()
        # Cause 16, normal clearing: without one the channel's Hangup says 0 (unknown).
        return spy, {"Action": "Hangup", "Channel": spy.channel, "Cause": "16"}

    async def gone(self, spy_id: int) -> SpySession | None:
        """The PBX has no such channel any more (its Hangup was not heard): ended now."""
        spy = await self.repo.get(spy_id)
        if spy is not None and spy.state == "active":
            spy.state, spy.ended_at = "ended", datetime.now(UTC)
            await self.session.flush()
        return spy

    async def not_stopped(self, spy_id: int) -> None:
        """The Hangup could not be sent: nobody ended it from here after all."""
        spy = await self.repo.get(spy_id)
        if spy is not None and spy.state == "active":
            spy.stopped_by_user_id = None
            await self.session.flush()

    async def get(self, spy_id: int) -> SpySession:
        spy = await self.repo.get(spy_id)
        if spy is None:
            raise NotFound("no such supervision session")
        return spy

    async def page(self, **filters: Any) -> list[SpySession]:
        return await self.repo.page(**filters)

    # -- what the PBX reports (inside the listener's transaction) ------------------------------

    async def track(
        self, events: Sequence[CallEvent], outcomes: Sequence[OriginateOutcome]
    ) -> list[SpySession]:
        """Sessions answered (OriginateResponse success), failed (the phone offline, not
        answered...) or ended (the supervisor's channel hung up: the agent's call ended,
        or the supervisor put the phone down). Returns those changed."""
        changed: list[SpySession] = []
        mine = [o for o in outcomes if o.action_id.startswith(SPY_PREFIX)]
        found = await self.repo.by_refs(sorted({o.action_id for o in mine}))
        for outcome in mine:
            spy = found.get(outcome.action_id)
            if spy is None or spy.pbx != outcome.pbx or spy.state != "requested":
                continue
            at = datetime.fromtimestamp(outcome.at, UTC)
            if outcome.success:
                spy.state, spy.uniqueid, spy.answered_at = "active", outcome.uniqueid, at
                spy.channel = outcome.channel[:200]
            else:
                spy.state, spy.ended_at = "failed", at
                spy.failure = failure_of_response(outcome) or "failed"
            changed.append(spy)
        ended = {
            (e.pbx, leg.uniqueid): leg.ended_at or e.call.ended_at
            for e in events
            if e.kind == "ended"
            for leg in e.call.legs
        }
        if ended:
            await self.session.flush()  # a session answered in this same batch is found
            for spy in await self.repo.active_on(sorted(ended)):
                when = ended[(spy.pbx, spy.uniqueid)]
                spy.ended_at = datetime.fromtimestamp(when, UTC) if when else datetime.now(UTC)
                spy.state = "ended"
                changed.append(spy)
        if changed:
            await self.session.flush()
        return changed

    # -- pausing and queues for an agent ------------------------------------------------------

    async def agent(self, agent_id: int) -> User:
        agent = await self.repo.user(agent_id)
        if agent is None or not agent.is_active:
            raise NotFound("no such agent")
        return agent

    async def pause_actions(
        self, agent: User, paused: bool, reason: str = ""
    ) -> list[tuple[str, dict[str, Any]]]:
        service = AgentService(self.session, self.settings)
        if not await service.members(agent):
            raise InvalidInput(f"{_name(agent)} is in no queue: there is nothing to pause")
        return await service.pause_actions(agent, paused, reason)

    async def queue_actions(
        self, agent: User, pbx: str | None, queue: str, login: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        return await AgentService(self.session, self.settings).queue_action(
            agent, pbx, queue, login
        )

    def told(self, agent: User, supervisor: User, action: str, **details: Any) -> dict[str, Any]:
        """The message on the agent's panel saying who did this to them."""
        return {
            "user_id": agent.id,
            "pbx": "",
            "linkedid": f"supervised-{secrets.token_hex(8)}",
            "kind": "supervised",
            "payload": {
                "action": action,
                "by": {
                    "id": supervisor.id,
                    "name": _name(supervisor),
                    "role": supervisor.role,
                },
                "at": datetime.now(UTC).isoformat(),
                **details,
            },
        }


def _name(user: User) -> str:
    return user.full_name or user.username
