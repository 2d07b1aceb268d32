"""The hub without sockets: routing to every tab of an agent, ordering, slow clients."""

from __future__ import annotations

import asyncio

from screenpop.hub import RESYNC, Connection, Hub


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
