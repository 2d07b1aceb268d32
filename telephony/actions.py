"""Sending AMI actions (Originate, QueuePause, QueueAdd, QueueRemove) to a PBX.

Every Tamas instance may need to act on every PBX (an agent's browser is connected to any of
them), while only one instance follows a PBX's events. So each instance keeps its own action
connection per PBX, logged in with ``Events: off``: it carries requests and their responses
and nothing else. Outcomes that come later as events (``OriginateResponse``, the
``QueueMember*`` events) reach Tamas through the instance that follows the PBX.

The connection is opened on first use and again after it is lost; an action is never queued
for later (a click-to-call placed minutes late would ring a phone nobody expects to ring):
when the PBX cannot be reached the caller gets :class:`PbxUnavailable` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from panoramisk import Manager

from app.tasks import within
from telephony.framing import Message
from telephony.listener import PbxConfig
from telephony.protocol import TamasAMIProtocol

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
ACTION_TIMEOUT = 8.0


class PbxUnavailable(Exception):
    """The PBX could not be reached, refused the login or did not answer in time."""


class ActionFailed(Exception):
    """The PBX answered the action with ``Response: Error``; the message says why."""


class _ActionManager(Manager):  # type: ignore[misc]
    """panoramisk's Manager without its reconnect loop: the client reconnects on demand."""

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        try:
            f.result()
        except OSError:
            return  # the client's wait sees the failed connection
        super().connection_made(f)

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        self.authenticated = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
            self.pinger = None


class AmiActionClient:
    """One PBX's action connection, for one Tamas instance."""

    def __init__(self, config: PbxConfig) -> None:
        self.config = config
        self._manager: _ActionManager | None = None
        self._lock = asyncio.Lock()

    def _usable(self) -> bool:
        manager = self._manager
        if manager is None or not manager.authenticated:
            return False
        protocol = getattr(manager, "protocol", None)
        transport = getattr(protocol, "transport", None)
        return transport is not None and not transport.is_closing()

    async def _connect(self) -> _ActionManager:
        async with self._lock:
            if self._usable():
                assert self._manager is not None
                return self._manager
            self.close()
            manager = _ActionManager(
                loop=asyncio.get_running_loop(),
                host=self.config.host,
                port=self.config.port,
                username=self.config.username,
                secret=self.config.secret.get_secret_value(),
                events="off",
                ping_delay=20,
                ping_interval=20,
                protocol_factory=TamasAMIProtocol,
                encoding="utf-8",
            )
            try:
                await within(manager.connect(), CONNECT_TIMEOUT)
                login = manager.authenticated_future
                if login is None:
                    raise PbxUnavailable(f"PBX {self.config.id}: the connection closed at once")
                await within(asyncio.shield(login), CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                with contextlib.suppress(Exception):
                    manager.close()
                raise PbxUnavailable(
                    f"PBX {self.config.id} cannot be reached ({type(exc).__name__})"
                ) from None
            if not manager.authenticated:
                with contextlib.suppress(Exception):
                    manager.close()
                raise PbxUnavailable(
                    f"PBX {self.config.id} refused Tamas's AMI login: check the username/secret"
                )
            self._manager = manager
            logger.info("PBX %s: action connection open", self.config.id)
            return manager

    async def send(self, action: dict[str, Any]) -> Message:
        """Send one action; its response (``Response: Success``), or :class:`ActionFailed`
        with the PBX's message, or :class:`PbxUnavailable`."""
        manager = await self._connect()
        try:
            reply = await within(manager.send_action(dict(action), as_list=False), ACTION_TIMEOUT)
        except TimeoutError:
            self.close()  # a PBX that does not answer gets a fresh connection next time
            raise PbxUnavailable(
                f"PBX {self.config.id} did not answer {action.get('Action')} in time"
            ) from None
        frame: Message | None = getattr(reply, "frame", None)
        if frame is None:
            raise PbxUnavailable(f"PBX {self.config.id}: no answer to {action.get('Action')}")
        if frame.get("Response").lower() != "success":
            raise ActionFailed(frame.get("Message") or "the PBX refused the action")
        return frame

    def close(self) -> None:
        if self._manager is not None:
            with contextlib.suppress(Exception):
                self._manager.close()
            self._manager = None


class PbxActions:
    """The action clients of every configured PBX (one instance's)."""

    def __init__(self, configs: list[PbxConfig]) -> None:
        self.clients = {c.id: AmiActionClient(c) for c in configs}

    def get(self, pbx: str) -> AmiActionClient:
        return self.clients[pbx]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
