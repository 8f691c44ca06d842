"""Engine publish: dense offsets, idempotent ids, admission, fencing."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from promethean.bus import BusEngine, EngineConfig, EngineHooks, PublishRequest
from promethean.clock import FakeClock
from promethean.errors import FencedError, FrameError, OverloadedError
from promethean.store.memory import MemoryStore
from promethean.store.records import Fence
from tests.unit.bus.conftest import MakeHarness
from tests.unit.bus.support import Harness, config, payload


async def test_offsets_are_dense_per_partition_and_in_request_order(
    make_harness: MakeHarness,
) -> None:
    bus = await make_harness(default_partitions=4)
    requests = [
        PublishRequest(topic="orders", payload=payload(i), key=f"k{i % 7}") for i in range(200)
    ]
    results = await bus.engine.publish(requests)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for result in results:
        by_partition[result.partition].append(result.offset)
    assert len(by_partition) > 1
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets))), "request order within a partition"
    for partition, offsets in by_partition.items():
        stored = await bus.store.read("orders", partition, 0, 1000)
        assert [e.offset for e in stored] == offsets


async def test_concurrent_publishers_share_group_commits(make_harness: MakeHarness) -> None:
    class Batches(EngineHooks):
        sizes: list[int] = []

        def append_batch(self, size: int, seconds: float) -> None:
            self.sizes.append(size)

    bus = await make_harness()
    hooks = Batches()
    engine = BusEngine(
        bus.store, config(append_batch_max=64), bus.clock, hooks=hooks, background=False
    )
    try:
        results = await asyncio.gather(
            *(engine.publish([PublishRequest(topic="t", payload=payload(i))]) for i in range(300))
        )
    finally:
        await engine.close()
    offsets = sorted(r[0].offset for r in results)
    assert offsets == list(range(300))
    assert sum(hooks.sizes) == 300
    assert max(hooks.sizes) <= 64
    assert len(hooks.sizes) < 300, "waiting publishes ride along in one write"


async def test_same_id_returns_the_original_position(bus: Harness) -> None:
    first = await bus.publish("orders", {"v": 1}, id="order-1")
    again = await bus.publish("orders", {"v": 2}, id="order-1")
    elsewhere = await bus.publish("orders", {"v": 3}, id="order-1", key="other-key")
    assert not first.duplicate
    for result in (again, elsewhere):
        assert result.duplicate
        assert (result.partition, result.offset, result.id) == (
            first.partition,
            first.offset,
            "order-1",
        )
    assert await bus.store.count_events("orders") == 1


async def test_same_id_twice_in_one_batch(bus: Harness) -> None:
    requests = [
        PublishRequest(topic="orders", payload=payload(1), id="dup"),
        PublishRequest(topic="orders", payload=payload(2), id="dup"),
    ]
    first, second = await bus.engine.publish(requests)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.offset == first.offset
    assert await bus.store.count_events("orders") == 1


async def test_the_same_id_on_another_topic_is_another_event(bus: Harness) -> None:
    a = await bus.publish("a", {}, id="x")
    b = await bus.publish("b", {}, id="x")
    assert not a.duplicate
    assert not b.duplicate


async def test_ids_are_generated_when_absent(bus: Harness) -> None:
    results = await bus.publish_many("orders", 10)
    assert len({r.id for r in results}) == 10


async def test_publishes_beyond_the_queue_are_refused(make_harness: MakeHarness) -> None:
    bus = await make_harness(publish_queue_max=5)
    with pytest.raises(OverloadedError) as refused:
        await bus.publish_many("orders", 6)
    assert refused.value.retry_after_ms > 0
    assert await bus.store.count_events("orders") == 0, "refused means nothing written"
    assert len(await bus.publish_many("orders", 5)) == 5


async def test_bad_topic_name_never_reaches_the_store(bus: Harness) -> None:
    for name in ('{"$gt":""}', "$cmd", "a\x00b", "a..b", ""):
        with pytest.raises(FrameError) as refused:
            await bus.publish(name, {})
        assert refused.value.code == "bad_name"
    assert await bus.store.list_topics() == []
    assert (await bus.store.stats())["events"] == 0


async def test_a_fenced_engine_cannot_append(store: MemoryStore, clock: FakeClock) -> None:
    old = await store.acquire_lease("broker", "old", 1_000, clock.now_ms())
    assert old is not None
    clock.advance(1_001)
    new = await store.acquire_lease("broker", "new", 1_000, clock.now_ms())
    assert new is not None
    assert new.token == old.token + 1

    stale = BusEngine(store, config(), clock, fence=Fence("broker", old.token), background=False)
    current = BusEngine(store, config(), clock, fence=Fence("broker", new.token), background=False)
    try:
        with pytest.raises(FencedError):
            await stale.publish([PublishRequest(topic="orders", payload=b"1")])
        (result,) = await current.publish([PublishRequest(topic="orders", payload=b"2")])
        assert result.offset == 0
        assert await store.count_events("orders") == 1
    finally:
        await stale.close()
        await current.close()


async def test_events_removed_by_retention_are_not_served_from_memory() -> None:
    store = MemoryStore("memory://retention")
    await store.open()
    engine = BusEngine(store, EngineConfig(default_partitions=1), FakeClock(), background=False)
    await engine.publish([PublishRequest(topic="t", payload=b"1") for _ in range(10)])
    assert engine.high_watermark("t", 0) == 9
    await store.delete_below("t", 0, 6)
    await engine.sync_retention()
    events = await engine.read("t", 0, 0, 100, up_to=9)
    assert [e.offset for e in events] == [6, 7, 8, 9]
    await engine.close()
    await store.close()
