"""The agents' websocket: ``/ws/pops``.

Protocol (JSON text frames):

- The client opens the socket and sends ``{"type": "auth", "token": "...", "last_seq": N}``
  within 10 s (the token is the one from ``POST /api/auth/token``; it is not put in the URL,
  where proxies and access logs would keep it). ``last_seq`` is the ``seq`` of the last pop
  it received, or null on a first connection.
- The server answers ``{"type": "hello", "user": {...}, "seq": N}``, then what the client
  missed that is still relevant, then live messages: ``pop`` (show or refresh the card of
  a call), ``withdraw`` (take it away; ``reason``: answered, caller_hung_up, transferred,
  ...), ``end`` (the call is over). Each has a ``seq`` that increases per agent.
- ``{"type": "ping"}`` every 15 s; the client answers ``{"type": "pong"}``. A client silent
  for 45 s is closed. ``{"type": "resync"}`` means: reconnect with your last seq.
- Close codes: 4401 not signed in or token revoked/expired, 4408 no auth message in time,
  4400 a malformed first message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.auth.service import AuthService
from app.db import unit_of_work
from app.errors import NotAuthenticated
from app.models import User
from screenpop.hub import Connection, Hub
from screenpop.service import PopService

logger = logging.getLogger(__name__)
router = APIRouter()

AUTH_TIMEOUT = 10.0
PING_INTERVAL = 15.0
SILENCE_LIMIT = 45.0


async def _user_for(websocket: WebSocket, token: str) -> User | None:
    app = websocket.app
    try:
        async with unit_of_work(app.state.sessionmaker) as session:
            return await AuthService(session, app.state.settings).user_for_token(token)
    except NotAuthenticated:
        return None


@router.websocket("/ws/pops")
async def pops_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        first = await asyncio.wait_for(websocket.receive_json(), timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await websocket.close(code=4408, reason="send {type: auth, token} first")
        return
    except (WebSocketDisconnect, RuntimeError):
        return
    except ValueError:
        await websocket.close(code=4400, reason="the first message must be JSON")
        return
    token = first.get("token") if isinstance(first, dict) else None
    if not isinstance(first, dict) or first.get("type") != "auth" or not isinstance(token, str):
        await websocket.close(code=4400, reason="the first message must be {type: auth, token}")
        return
    user = await _user_for(websocket, token)
    if user is None:
        await websocket.close(code=4401, reason="not signed in: the token is invalid or revoked")
        return
    last_seq = first.get("last_seq")
    after = last_seq if isinstance(last_seq, int) and last_seq >= 0 else None

    hub: Hub = websocket.app.state.hub
    conn = Connection(user.id)
    # Registered before the missed pops are read: a pop written in between is queued, and
    # the sequence check drops it if the catch-up already carried it.
    hub.add(conn)
    try:
        await _hello(websocket, user, conn, after)
        # Only the connection and the token are needed from here on, for hours: the user
        # loaded at sign-in would otherwise stay in memory with every open socket.
        del user, first
        await _serve(websocket, conn, token)
    finally:
        hub.remove(conn)


async def _hello(websocket: WebSocket, user: User, conn: Connection, after: int | None) -> None:
    """The hello, then what the client missed. A function of its own so that its session
    goes when it returns, not when the socket closes."""
    settings = websocket.app.state.settings
    async with websocket.app.state.sessionmaker() as session:
        service = PopService(session, settings.default_region)
        missed = await service.since(user.id, after)
        current = await service.last_seq(user.id)
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
        }
    )
    for message in missed:
        conn.offer(message)


async def _serve(websocket: WebSocket, conn: Connection, token: str) -> None:
    last_heard = time.monotonic()

    async def receive() -> None:
        nonlocal last_heard
        while True:
            message: Any = await websocket.receive_json()
            last_heard = time.monotonic()
            if isinstance(message, dict) and message.get("type") == "ping":
                await websocket.send_json({"type": "pong"})

    async def send() -> None:
        while True:
            message = await conn.next()
            await websocket.send_json(message)
            if message.get("type") == "resync":
                await websocket.close(code=4409, reason="resync")
                return

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            if time.monotonic() - last_heard > SILENCE_LIMIT:
                await websocket.close(code=4000, reason="no pong: connection presumed dead")
                return
            if await _user_for(websocket, token) is None:
                await websocket.close(code=4401, reason="signed out: the token was revoked")
                return
            await websocket.send_json({"type": "ping"})

    tasks = [asyncio.create_task(c()) for c in (receive, send, heartbeat)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
