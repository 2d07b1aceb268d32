"""After-call work: keep an agent paused for ``wrapup_seconds`` after each answered call, so
they can finish their notes before the next queue call rings.

Runs on every instance: the pause is started by the instance that follows the PBX (it sees
the call end, after the call is stored), and the end of the pause is claimed from the
database by whichever instance's timer gets there first, so a restart or a takeover does not
leave an agent paused. An agent who unpauses early, or pauses for another reason meanwhile,
is left as they chose.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from app.agents.service import AgentService
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.tasks import cancelled
from telephony.actions import ActionFailed, PbxActions, PbxUnavailable
from telephony.model import CallEvent

logger = logging.getLogger(__name__)


def agent_device(event: CallEvent) -> str:
    """The agent's device of an answered call that just ended for them ("" if none): at
    its end, or before it when the agents let the caller go on alone ("released": a
    post-call survey), not again at its end then."""
    call = event.call
    if event.kind == "released":
        return event.device
    if event.kind != "ended" or call.outcome != "answered" or call.released_at is not None:
        return ""
    if call.direction == "inbound" and call.answered_by:
        return call.answered_by
    return call.agent_devices[0] if call.agent_devices else ""


class WrapUp:
    def __init__(self, sessionmaker: SessionMaker, settings: Settings, actions: PbxActions):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.actions = actions
        self._task: asyncio.Task[None] | None = None
        self.tick = 1.0

    def start(self) -> None:
        if self.settings.wrapup_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="wrapup")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def on_calls(self, events: list[CallEvent]) -> None:
        """A publisher of the call recorder: called after the batch is committed."""
        if self.settings.wrapup_seconds <= 0:
            return
        until = datetime.now(UTC) + timedelta(seconds=self.settings.wrapup_seconds)
        for event in events:
            device = agent_device(event)
            if not device:
                continue
            async with unit_of_work(self.sessionmaker) as session:
                actions = await AgentService(session, self.settings).start_wrapup(
                    event.pbx, device, until
                )
            await self._send(actions)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                async with unit_of_work(self.sessionmaker) as session:
                    actions = await AgentService(session, self.settings).end_wrapups()
                await self._send(actions)
            except Exception:
                logger.exception("after-call work: ending pauses failed; trying again")

    async def _send(self, actions: list[tuple[str, dict[str, Any]]]) -> None:
        for pbx, action in actions:
            try:
                await self.actions.get(pbx).send(action)
            except (PbxUnavailable, ActionFailed) as exc:
                logger.warning(
                    "after-call work: %s on PBX %s failed: %s", action["Action"], pbx, exc
                )
