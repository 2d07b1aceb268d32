"""A webhook receiver for the tests: uvicorn on 127.0.0.1 (a real socket), recording every
request; what it answers is scripted per request (a status, or hanging until released)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # the status it got; None: it was left hanging


@dataclass
class Receiver:
    # What to answer, in order, one per request; once used up, ``default``. "hang": the
    # request gets no answer until ``release`` is set.
    script: list[int | str] = field(default_factory=list)
    default: int | str = 200
    # Or a function of the request deciding the answer (ahead of the script).
    decide: Callable[[Received], int | str] | None = None
    # The body of a 2xx answer (JSON).
    reply: bytes = b'{"ok": true}'
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        asked = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        asked[":path"] = scope["path"] + (
            "?" + scope["query_string"].decode() if scope["query_string"] else ""
        )
        got = Received(asked, body)
        self.received.append(got)
        answer: int | str
        if self.decide is not None:
            answer = self.decide(got)
        else:
            answer = self.script.pop(0) if self.script else self.default
        if answer == "hang":
            await self.release.wait()
            answer = 200
        assert isinstance(answer, int)
        got.answered = answer
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": answer, "headers": headers})
        await send({"type": "http.response.body", "body": self.reply if answer < 300 else b"nope"})

    def event_ids(self, answered: int | None = None) -> list[str]:
        return [
            r.headers["tamas-event-id"]
            for r in self.received
            if answered is None or r.answered == answered
        ]


@asynccontextmanager
async def receiving(receiver: Receiver | None = None) -> AsyncIterator[Receiver]:
    receiver = receiver or Receiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server))
        receiver.port = server.servers[0].sockets[0].getsockname()[1]
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
