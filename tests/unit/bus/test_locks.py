"""KeyedLocks: one lock per key, mutual exclusion, and no lock left once
nobody holds or awaits it."""

from __future__ import annotations

import asyncio

from promethean.bus.locks import KeyedLocks


async def test_holders_of_one_key_take_turns_and_leave_nothing_behind() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    inside = 0
    most_inside = 0

    async def hold(key: str) -> None:
        nonlocal inside, most_inside
        async with locks.hold(key):
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(hold("a") for _ in range(20)))
    assert most_inside == 1
    assert len(locks) == 0


async def test_a_waiter_keeps_the_lock_alive_after_its_holder_left() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with locks.hold("k"):
            order.append("first")
            await release.wait()

    async def second() -> None:
        async with locks.hold("k"):
            order.append("second")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # first released; second is woken but not yet running
    async with locks.hold("k"):  # a newcomer must queue on the same lock
        order.append("third")
    await asyncio.gather(*tasks)
    assert order == ["first", "second", "third"]
    assert len(locks) == 0


async def test_keys_do_not_block_each_other() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    async with locks.hold(1), locks.hold(2):
        assert len(locks) == 2
    assert len(locks) == 0
