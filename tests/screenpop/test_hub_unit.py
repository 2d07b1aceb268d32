"""The hub without sockets: routing to every tab of an agent, ordering, slow clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection

import pytest

from screenpop import keeper
from screenpop.hub import CLOSE, PING, RESYNC, Connection, Hub
from screenpop.keeper import Keeper


async def test_every_tab_of_an_agent_gets_the_pop_and_no_one_else() -> None:
    hub = Hub()
    tab1, tab2, other = Connection(1), Connection(1), Connection(2)
    for conn in (tab1, tab2, other):
        hub.add(conn)
    hub.deliver(1, {"type": "pop", "seq": 5})
    assert (await tab1.next())["seq"] == 5
    assert (await tab2.next())["seq"] == 5
    assert other.queue.empty()
    hub.remove(tab1)
    hub.remove(tab2)
    assert hub.users() == [2]


async def test_a_pop_already_sent_is_not_sent_again() -> None:
    conn = Connection(1)
    for seq in (3, 4, 4, 2, 6):
        conn.offer({"type": "pop", "seq": seq})
    got = [(await conn.next())["seq"] for _ in range(3)]
    assert got == [3, 4, 6]


async def test_a_slow_client_is_told_to_resync_and_others_are_not_held_up() -> None:
    hub = Hub()
    slow, fast = Connection(1, maxsize=3), Connection(1, maxsize=100)
    hub.add(slow)
    hub.add(fast)
    for seq in range(1, 11):
        hub.deliver(1, {"type": "pop", "seq": seq})
    assert await asyncio.wait_for(slow.next(), 1) == RESYNC
    assert slow.queue.empty() and slow.overflowed
    assert [(await fast.next())["seq"] for _ in range(10)] == list(range(1, 11))


async def test_the_keeper_pings_checks_tokens_in_one_batch_and_closes_the_dead() -> None:
    hub = Hub()
    live, revoked, silent, later = (
        Connection(1, "live"),
        Connection(2, "revoked"),
        Connection(3, "silent"),
        Connection(4, "later"),
    )
    for conn in (live, revoked, silent):
        hub.add(conn)
    hub.add(later, first_check=60)  # not due yet: not looked at in this turn
    silent.last_heard = time.monotonic() - keeper.SILENCE_LIMIT - 1
    asked: list[set[str]] = []

    async def live_tokens(digests: Collection[str]) -> set[str]:
        asked.append(set(digests))
        return {"live"} & set(digests)

    await Keeper(hub, live_tokens).tick()
    assert asked == [{"live", "revoked"}]  # one query; the silent one needs none
    assert await live.next() == PING
    assert await revoked.next() is CLOSE and revoked.closing is not None
    assert revoked.closing[0] == 4401
    assert await silent.next() is CLOSE and silent.closing is not None
    assert silent.closing[0] == 4000
    assert later.queue.empty()
    # Nothing is due again until the interval has passed.
    await Keeper(hub, live_tokens).tick()
    assert len(asked) == 1 and live.queue.empty()


async def test_the_keeper_signs_no_one_out_when_the_database_is_away() -> None:
    hub = Hub()
    conn = Connection(1, "digest")
    hub.add(conn)

    async def unreachable(digests: Collection[str]) -> set[str]:
        raise ConnectionRefusedError("database restarting")

    await Keeper(hub, unreachable).tick()
    assert await conn.next() == PING and conn.closing is None


async def test_new_connections_are_spread_over_the_interval() -> None:
    delays = [keeper.first_check_delay() for _ in range(200)]
    assert all(keeper.PING_INTERVAL / 2 <= d <= keeper.PING_INTERVAL for d in delays)
    assert max(delays) - min(delays) > keeper.PING_INTERVAL / 4


async def test_a_closing_connection_drops_what_is_queued_and_takes_no_more() -> None:
    conn = Connection(1)
    conn.offer({"type": "pop", "seq": 1})
    conn.close(4401, "revoked")
    conn.offer({"type": "pop", "seq": 2})
    assert await conn.next() is CLOSE
    assert conn.queue.empty()


async def test_the_keeper_freezes_once_many_sockets_are_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen: list[int] = []
    hub = Hub()
    kept = Keeper(hub, lambda digests: asyncio.sleep(0, set()))  # type: ignore[arg-type,return-value]
    monkeypatch.setattr(keeper.gc, "freeze", lambda: frozen.append(hub.connections()))
    for n in range(keeper.FREEZE_AT - 1):
        hub.add(Connection(n), first_check=60)
    kept.maybe_freeze()
    assert frozen == []  # a few sockets: not worth it
    hub.add(Connection(999), first_check=60)
    kept.maybe_freeze()
    kept.maybe_freeze()
    assert frozen == [keeper.FREEZE_AT]  # once, until the count grows by a quarter
    for n in range(keeper.FREEZE_AT // 4):
        hub.add(Connection(1000 + n), first_check=60)
    kept.maybe_freeze()
    assert len(frozen) == 2
