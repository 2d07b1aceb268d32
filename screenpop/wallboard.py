"""The supervisors' live wallboard over a websocket: ``/ws/wallboard``.

Every committed batch of PBX events notifies ``tamas_wallboard`` (PostgreSQL NOTIFY, so any
instance serves it); each instance rebuilds the picture from the database at most a few
times a second and sends it to its wallboard sockets. A socket gets the whole picture when it
connects (a reconnect is a resync), then each new one.

Protocol: like ``/ws/pops``, the first message is ``{"type": "auth", "token": "..."}`` of a
supervisor or admin (4401 otherwise, 4403 for an agent); then ``{"type": "board", ...}``
messages (see ``app.reports.live.LiveBoard``), and ``{"type": "ping"}`` every 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.config import Settings
from app.db import SessionMaker, unit_of_work
from app.deps import has_role
from app.models import Role
from app.reports.live import LiveBoard
from app.tasks import cancelled, within

logger = logging.getLogger(__name__)
router = APIRouter()

NOTIFY_CHANNEL = "tamas_wallboard"
# At most this often a new picture; and at least this often (wait times grow by themselves).
MIN_GAP = 0.3
REFRESH = 5.0
PING = 20.0
# Put on a screen's queue at shutdown: its socket closes with 1001 ("going away").
GOING_AWAY: dict[str, Any] = {"type": "going_away"}


class Wallboard:
    def __init__(self, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clients: set[asyncio.Queue[dict[str, Any]]] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.built = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wallboard")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    def going_away(self) -> int:
        """Tell every wallboard screen this instance is going (the socket closes with
        1001: reconnect elsewhere). How many there were."""
        for queue in list(self.clients):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(GOING_AWAY)
        return len(self.clients)

    def changed(self, *_: Any) -> None:
        """A NOTIFY listener callback, or called directly."""
        self._dirty.set()

    async def picture(self) -> dict[str, Any]:
        async with unit_of_work(self.sessionmaker) as session:
            board = await LiveBoard(session, self.settings).snapshot()
        self.built += 1
        return {"type": "board", **board}

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await within(self._dirty.wait(), REFRESH)
            self._dirty.clear()
            if not self.clients:
                continue
            try:
                message = await self.picture()
            except Exception:
                logger.exception("wallboard: building the picture failed")
                await asyncio.sleep(1)
                continue
            for queue in list(self.clients):
                if queue.full():  # a slow screen gets the newest picture, not a backlog
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(message)
            await asyncio.sleep(MIN_GAP)


@router.websocket("/ws/wallboard")
async def wallboard_socket(websocket: WebSocket) -> None:
    from screenpop.endpoints import signed_in

    who = await signed_in(websocket)
    if who is None:
        return
    if not has_role(who.user, Role.supervisor):
        await websocket.close(code=4403, reason="the wallboard is for supervisors")
        return
    del who
    board: Wallboard = websocket.app.state.wallboard
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1)
    board.clients.add(queue)
    try:
        await websocket.send_json(await board.picture())

        async def send() -> None:
            while True:
                try:
                    message = await within(queue.get(), PING)
                except TimeoutError:
                    message = {"type": "ping"}
                if message is GOING_AWAY:
                    await websocket.close(code=1001, reason="server shutting down: reconnect")
                    return
                await websocket.send_json(message)

        async def receive() -> None:
            while True:
                await websocket.receive_json()  # pongs; a closed socket ends this

        tasks = [asyncio.create_task(c()) for c in (send, receive)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                    await task
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        board.clients.discard(queue)
