"""The agents' websocket: ``/ws/pops``.

Protocol (JSON text frames):

- The client opens the socket and sends ``{"type": "auth", "token": "...", "last_seq": N}``
  within 10 s (the token is the one from ``POST /api/auth/token``; it is not put in the URL,
  where proxies and access logs would keep it). ``last_seq`` is the ``seq`` of the last pop
  it received, or null on a first connection.
- The server answers ``{"type": "hello", "user": {...}, "seq": N}``, then what the client
  missed that is still relevant, then live messages: ``pop`` (show or refresh the card of
  a call), ``withdraw`` (take it away; ``reason``: answered, caller_hung_up, transferred,
  ...), ``end`` (the call is over), ``agent`` (the agent's availability changed: ``status``
  as ``GET /api/agent/status`` gives it; the hello carries the current one as ``agent``).
  Each has a ``seq`` that increases per agent.
- Click-to-call: the pops of a call Tamas placed carry its ``origination`` ref (the one
  ``POST /api/originations`` returned); states ``agent_ringing`` (your phone is ringing),
  ``dialling`` (calling the customer), ``connected``; a failure is a ``withdraw`` with the
  reason (device_offline, agent_no_answer, customer_busy, customer_no_answer,
  invalid_number, congestion...). One that failed before any call existed has the ref as its
  ``linkedid``.
- ``{"type": "ping"}`` every 15 s; the client answers ``{"type": "pong"}`` (it may also send
  its own ``ping`` and gets a ``pong``). A client silent for 45 s is closed (4000).
  ``{"type": "resync"}`` means: reconnect with your last seq (the socket closes with 4409).
- A user with a phone who opens a panel is signed in to Tamas from then until their last
  panel has been gone for ``TAMAS_SIGNIN_GRACE_SECONDS`` or they sign out (an activity
  interval: ``screenpop/signins.py``).
- Close codes: 4401 not signed in or token revoked/expired (checked at each ping), 4408 no
  auth message in time, 4400 a malformed first message, 4000 silent too long, 4409 resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.agents.service import AgentService
from app.auth.service import AuthService
from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.errors import NotAuthenticated
from app.models import User
from app.tasks import within
from screenpop.hub import CLOSE, RESYNC, Connection, Hub
from screenpop.keeper import TokenCheck, first_check_delay
from screenpop.service import PopService
from screenpop.signins import SignIns

logger = logging.getLogger(__name__)
router = APIRouter()

AUTH_TIMEOUT = 10.0


async def _user_for(websocket: WebSocket, token: str) -> tuple[User, str] | None:
    """The user a token signs in, with the token's digest (what the keeper checks later)."""
    app = websocket.app
    try:
        async with unit_of_work(app.state.sessionmaker) as session:
            auth = AuthService(session, app.state.settings)
            return await auth.user_for_token(token), auth.digest(token)
    except NotAuthenticated:
        return None


def token_checker(sessionmaker: SessionMaker, settings: Settings) -> TokenCheck:
    """The keeper's token check: one transaction for a whole batch of sockets."""

    async def live_tokens(digests: Collection[str]) -> set[str]:
        async with unit_of_work(sessionmaker) as session:
            return await AuthService(session, settings).live_digests(digests)

    return live_tokens


@dataclass
class SignedIn:
    """Who opened a socket, from its first message."""

    user: User
    digest: str
    first: dict[str, Any]


async def signed_in(websocket: WebSocket) -> SignedIn | None:
    """Accept the socket and read its first message, ``{type: auth, token, ...}``: who is
    asking. Otherwise it is closed with the reason (4408 not in time, 4400 malformed, 4401
    an invalid or revoked token) and None comes back. The panel's and the wallboard's
    sockets sign in the same way."""
    await websocket.accept()
    try:
        first = await within(websocket.receive_json(), AUTH_TIMEOUT)
    except TimeoutError:
        await websocket.close(code=4408, reason="send {type: auth, token} first")
        return None
    except (WebSocketDisconnect, RuntimeError):
        return None
    except ValueError:
        await websocket.close(code=4400, reason="the first message must be JSON")
        return None
    token = first.get("token") if isinstance(first, dict) else None
    if not isinstance(first, dict) or first.get("type") != "auth" or not isinstance(token, str):
        await websocket.close(code=4400, reason="the first message must be {type: auth, token}")
        return None
    found = await _user_for(websocket, token)
    if found is None:
        await websocket.close(code=4401, reason="not signed in: the token is invalid or revoked")
        return None
    return SignedIn(found[0], found[1], first)


@router.websocket("/ws/pops")
async def pops_socket(websocket: WebSocket) -> None:
    who = await signed_in(websocket)
    if who is None:
        return
    user, digest = who.user, who.digest
    last_seq = who.first.get("last_seq")
    after = last_seq if isinstance(last_seq, int) and last_seq >= 0 else None

    hub: Hub = websocket.app.state.hub
    conn = Connection(user.id, digest)
    # Registered before the missed pops are read: a pop written in between is queued, and
    # the sequence check drops it if the catch-up already carried it.
    hub.add(conn, first_check=first_check_delay())
    signins: SignIns | None = getattr(websocket.app.state, "signins", None)
    try:
        # Before the hello: a panel told hello is signed in to Tamas.
        if signins is not None:
            await signins.opened(user)
        await _hello(websocket, user, conn, after)
        # Only the connection is needed from here on, for hours: the user loaded at sign-in
        # and the token would otherwise stay in memory with every open socket.
        del user, who
        await _serve(websocket, conn)
    finally:
        hub.remove(conn)
        if signins is not None:
            signins.closed(conn.user_id)


async def _hello(websocket: WebSocket, user: User, conn: Connection, after: int | None) -> None:
    """The hello, then what the client missed. A function of its own so that its session
    goes when it returns, not when the socket closes."""
    settings = websocket.app.state.settings
    async with websocket.app.state.sessionmaker() as session:
        service = PopService(session, settings.default_region)
        missed = await service.since(user.id, after)
        current = await service.last_seq(user.id)
        agent = await AgentService(session, settings).status(user)
    await websocket.send_json(
        {
            "type": "hello",
            "seq": current,
            "user": {
                "id": user.id,
                "username": user.username,
                "full_name": user.full_name,
                "role": user.role,
                "devices": [d.device for d in user.devices],
            },
            "agent": agent,
        }
    )
    enricher = getattr(websocket.app.state, "enricher", None)
    for message in missed:
        if enricher is None:
            conn.offer(message)
        else:
            enricher.attach(conn.user_id, message, lambda _user, m: conn.offer(m))


async def _serve(websocket: WebSocket, conn: Connection) -> None:
    """Write what the hub queues for this socket and read what the client says (pongs,
    pings). The instance's :class:`~screenpop.keeper.Keeper` pings, checks the token and
    asks to close; no timer per socket."""

    async def send() -> None:
        while True:
            message = await conn.next()
            if message is CLOSE:
                assert conn.closing is not None
                await websocket.close(code=conn.closing[0], reason=conn.closing[1])
                return
            await websocket.send_json(message)
            if message["type"] == RESYNC["type"]:
                await websocket.close(code=4409, reason="resync")
                return

    async def receive() -> None:
        while True:
            message: Any = await websocket.receive_json()
            conn.heard()
            if isinstance(message, dict) and message.get("type") == "ping":
                await websocket.send_json({"type": "pong"})

    tasks = [asyncio.create_task(c()) for c in (receive, send)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
