"""The controller's target and each broker's ownership loop on one memory
store: the spread is balanced, a move is cooperative (release, then acquire
with token + 1), a request for another broker's partition names its owner,
a late renewal keeps a partition nobody took, and one another broker took
is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from promethean.errors import NotOwnerError
from promethean.store.memory import MemoryStore
from promethean.store.records import TopicConfig
from promethean_broker.controller import Controller
from promethean_broker.ownership import PartitionOwnership
from promethean_broker.seat import ClusterSeat
from promethean_broker.target import read_target

TTL_MS = 3_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore("memory://ownership-tests")
    await store.open()
    await store.create_topic(TopicConfig(name="t", partitions=4))
    yield store
    await store.close()


async def settle(controller: Controller, *owners: PartitionOwnership) -> None:
    await controller.step()
    for _ in range(2):  # releases in the first round, acquires in the second
        for owner in owners:
            await owner.step()


async def test_two_brokers_split_the_partitions_and_refuse_each_others(
    store: MemoryStore,
) -> None:
    clock = Clock()
    for broker in ("b1", "b2"):
        await store.register_broker(broker, f"ws://{broker}:7070", TTL_MS, clock())
    controller = Controller(ClusterSeat(store, "b1", TTL_MS, clock))
    b1 = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    b2 = PartitionOwnership(ClusterSeat(store, "b2", TTL_MS, clock))
    await settle(controller, b1, b2)

    assert len(b1.held()) == len(b2.held()) == 2
    assert set(b1.held()) | set(b2.held()) == {("t", p) for p in range(4)}
    (topic, partition) = sorted(b2.held())[0]
    with pytest.raises(NotOwnerError) as refused:
        await b1.claim(topic, partition)
    assert (refused.value.owner_id, refused.value.owner_address) == ("b2", "ws://b2:7070")
    assert refused.value.epoch == b2.held()[(topic, partition)]


async def test_a_new_broker_takes_its_share_cooperatively(store: MemoryStore) -> None:
    clock = Clock()
    await store.register_broker("b1", "ws://b1:7070", TTL_MS, clock())
    controller = Controller(ClusterSeat(store, "b1", TTL_MS, clock))
    b1 = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    await settle(controller, b1)
    assert len(b1.held()) == 4
    before = b1.held()

    await store.register_broker("b2", "ws://b2:7070", TTL_MS, clock())
    b2 = PartitionOwnership(ClusterSeat(store, "b2", TTL_MS, clock))
    await settle(controller, b1, b2)
    assert len(b1.held()) == len(b2.held()) == 2
    for slot, token in b2.held().items():
        assert token == before[slot] + 1, "the new owner acquires with token + 1"
    assert (await read_target(store)).epoch > 0


async def test_a_late_renewal_keeps_the_partition_when_nobody_took_it(
    store: MemoryStore,
) -> None:
    clock = Clock()
    await store.register_broker("b1", "ws://b1:7070", TTL_MS, clock())
    b1 = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    token = await b1.claim("t", 0)
    clock.now += TTL_MS + 1  # a slow pass: renewed after the grant expired
    await b1.step()
    assert b1.token("t", 0) == token + 1
    assert b1.admits("t", 0)


async def test_a_grant_another_broker_took_is_dropped(store: MemoryStore) -> None:
    clock = Clock()
    b1 = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    await b1.claim("t", 0)
    clock.now += TTL_MS + 1  # paused past its lease
    taken = await store.acquire_partition("t", 0, "b2", TTL_MS, clock())
    assert taken is not None
    await b1.step()
    assert b1.token("t", 0) is None
    assert not b1.admits("t", 0)


async def test_a_restart_under_the_same_id_gets_its_grant_back_with_a_fresh_expiry(
    store: MemoryStore,
) -> None:
    """A grant taken back from before a restart keeps its token and is
    renewed at once, so the first pass after it is not late."""
    clock = Clock()
    before = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    token = await before.claim("t", 0)
    clock.now += TTL_MS - 10  # killed; restarted just before the grant expires
    after = PartitionOwnership(ClusterSeat(store, "b1", TTL_MS, clock))
    assert await after.claim("t", 0) == token
    (owner,) = [o for o in await store.list_partition_owners("t") if o.partition == 0]
    assert owner.expires_at_ms == clock.now + TTL_MS
    clock.now += TTL_MS // 2
    await after.step()
    assert after.token("t", 0) == token, "renewed in time: no new token"
