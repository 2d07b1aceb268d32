"""Graceful shutdown (SIGTERM, Ctrl-C): nothing received is lost, nobody waits for a dead
instance.

1. The instance says it is going (``/healthz`` and ``/readyz`` answer 503) and tells every
   panel and wallboard socket to reconnect elsewhere: close code 1001, "going away".
   ``tamas serve`` does
   this before uvicorn closes the remaining connections itself (with 1012).
2. Each PBX listener stops reading and stores the events it already received (at most
   ``TAMAS_SHUTDOWN_DRAIN_SECONDS``), then the PBX's advisory lock is released, so another
   instance takes the PBX over at its next try (every 3 s) instead of waiting for this
   process's database connection to time out.
3. The background tasks stop, newest first, and the database closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from typing import Any

import uvicorn

logger = logging.getLogger(__name__)

GOING_AWAY = 1001
SOCKETS_CLOSE_WITHIN = 2.0


async def going_away(state: Any, within: float = SOCKETS_CLOSE_WITHIN) -> int:
    """Mark the instance as shutting down and close every panel and wallboard socket with
    1001; wait (at most ``within`` s) until their writers have sent the close. Returns how
    many panel sockets there were."""
    state.shutting_down = True
    board = getattr(state, "wallboard", None)
    screens = board.going_away() if board is not None else 0
    hub = getattr(state, "hub", None)
    if hub is None:
        return 0
    conns = list(hub)
    for conn in conns:
        conn.close(GOING_AWAY, "server shutting down: reconnect")
    deadline = time.monotonic() + within
    # Each socket leaves the hub once its writer has sent the close: poll, as the hub has
    # no event for that (its hot path stays as it is).
    while (hub.connections() or (board is not None and board.clients)) and (  # noqa: ASYNC110
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.02)
    if conns or screens:
        logger.info(
            "shutting down: %d panel sockets and %d wallboards told to reconnect elsewhere",
            len(conns),
            screens,
        )
    return len(conns)


async def drain_listeners(leadership: Any, within: float) -> None:
    """Let every listener store what it received (together, within ``within`` seconds)."""
    listeners = dict(leadership.listeners)
    if not listeners:
        return
    results = await asyncio.gather(*(lst.drain(within) for lst in listeners.values()))
    for (pbx, listener), done in zip(listeners.items(), results, strict=True):
        if done:
            logger.info("PBX %s: every event received was stored", pbx)
        else:
            logger.warning(
                "PBX %s: %d events received were not stored within %.0f s",
                pbx,
                listener.queue.qsize(),
                within,
            )


class Server(uvicorn.Server):
    """uvicorn's server, telling the panels to go before it closes the connections (uvicorn
    would close websockets with 1012, before the application hears of the shutdown)."""

    def __init__(self, config: uvicorn.Config, state: Any) -> None:
        super().__init__(config)
        self.state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections meanwhile (uvicorn closes them again)
        try:
            await going_away(self.state)
        except Exception:  # the shutdown goes on whatever happens here
            logger.exception("closing the panel sockets failed")
        await super().shutdown(sockets)
        # uvicorn raises the signal again once it has shut down, so the process dies of it
        # (status 143). A shutdown asked for with SIGTERM that went through is a success:
        # exit 0, so supervisors do not report a failure.
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured[:] = [s for s in captured if s != signal.SIGTERM]
