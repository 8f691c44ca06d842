"""Compactor passes run in-process against a SQLite store, checked against a model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from promethean.clock import FakeClock
from promethean.store import open_store
from promethean.store.port import Store
from promethean.store.records import Cleanup, NewEvent, TopicConfig
from promethean_compactor.passes import PassOptions, TopicPasses
from tests.integration.compactor.model import KeyedModel, append_all, random_events

HOUR_MS = 3_600_000


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/bus.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _stored_latest(store: Store, topic: str, partitions: int) -> dict[str, bytes]:
    """key → payload of the newest stored event per key, read from the log."""
    latest: dict[str, tuple[int, bytes]] = {}
    for partition in range(partitions):
        position = 0
        while True:
            events = await store.read(topic, partition, position, 10_000)
            for event in events:
                assert event.key is not None
                latest[event.key] = (event.offset, event.payload)
            if len(events) < 10_000:
                break
            position = events[-1].offset + 1
    return {k: v[1] for k, v in latest.items()}


async def test_compaction_keeps_latest_by_key_of_100k_random_events(sqlite_store: Store) -> None:
    clock = FakeClock()
    topic, partitions, keys = "orders.state", 4, 5_000
    config = TopicConfig(
        name=topic, partitions=partitions, cleanup=Cleanup.COMPACT, tombstone_retention_ms=HOUR_MS
    )
    await sqlite_store.put_topic_config(config)
    model = KeyedModel()
    events = random_events(
        100_000, keys, partitions, seed=7, tombstone_share=0.05, ts=clock.now_ms()
    )
    await append_all(sqlite_store, topic, events, model)
    latest_before = {p: await sqlite_store.latest_offset(topic, p) for p in range(partitions)}

    passes = TopicPasses(sqlite_store, PassOptions(batch_events=7_000), clock.now_ms)
    report = await passes.run(config)

    assert report.scanned == 100_000
    assert report.compacted == 100_000 - len(model.latest)
    assert report.tombstones == 0, "tombstones are younger than their retention"
    assert await sqlite_store.count_events(topic) == len(model.latest)
    stored = await _stored_latest(sqlite_store, topic, partitions)
    assert stored == {k: v[2] for k, v in model.latest.items()}
    for key, (partition, offset, payload) in list(model.latest.items())[:500]:
        event = await sqlite_store.latest_by_key(topic, key)
        assert event is not None
        assert (event.partition, event.offset, event.payload) == (partition, offset, payload)
    assert {p: await sqlite_store.latest_offset(topic, p) for p in range(partitions)} == (
        latest_before
    ), "offsets are never reused or renumbered"

    clock.advance(HOUR_MS + 100_001)  # event ts run up to start + 100 s
    report = await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(config)
    live = model.live()
    assert report.tombstones == len(model.latest) - len(live)
    assert await _stored_latest(sqlite_store, topic, partitions) == live
    for key in set(model.latest) - set(live):
        assert await sqlite_store.latest_by_key(topic, key) is None


async def test_compaction_stops_at_the_slowest_group_unless_told_otherwise(
    sqlite_store: Store,
) -> None:
    clock = FakeClock()
    topic = "prices"
    config = TopicConfig(name=topic, partitions=1, cleanup=Cleanup.COMPACT)
    await sqlite_store.put_topic_config(config)
    events = [
        NewEvent(id=f"e{i}", ts=clock.now_ms(), payload=b"%d" % i, key="k") for i in range(100)
    ]
    await sqlite_store.append(topic, 0, events)
    await sqlite_store.commit("slow", topic, {0: 39})
    await sqlite_store.commit("fast", topic, {0: 99})

    await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(config)
    offsets = [e.offset for e in await sqlite_store.read(topic, 0, 0, 1000)]
    assert offsets == [39, *range(40, 100)], "only what every group consumed is compacted"

    beyond = TopicConfig(
        name=topic, partitions=1, cleanup=Cleanup.COMPACT, compact_beyond_commits=True
    )
    await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(beyond)
    assert [e.offset for e in await sqlite_store.read(topic, 0, 0, 1000)] == [99]


async def test_retention_by_count_and_time_respects_groups_unless_forced(
    sqlite_store: Store,
) -> None:
    clock = FakeClock()
    topic = "audit"
    start = clock.now_ms()
    events = [NewEvent(id=f"e{i}", ts=start + i * 1000, payload=b"1") for i in range(100)]
    await sqlite_store.append(topic, 0, events)
    await sqlite_store.commit("reader", topic, {0: 19})
    clock.advance(100 * 1000)
    # Time keeps the last 30 s (offsets 70..99); count keeps the last 50 (50..99).
    config = TopicConfig(name=topic, partitions=1, retention_ms=30_000, retention_events=50)
    report = await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(config)
    assert report.retained == 20
    assert report.blocked_by == {"reader"}
    assert await sqlite_store.earliest_offset(topic, 0) == 20

    forced = TopicConfig(
        name=topic, partitions=1, retention_ms=30_000, retention_events=50, retention_force=True
    )
    report = await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(forced)
    assert report.retained == 50
    assert report.skipped == {"reader": 50}
    assert await sqlite_store.earliest_offset(topic, 0) == 70
    assert await sqlite_store.latest_offset(topic, 0) == 99


async def test_delete_only_topics_are_never_compacted(sqlite_store: Store) -> None:
    clock = FakeClock()
    config = TopicConfig(name="log", partitions=1)
    events = [NewEvent(id=f"e{i}", ts=clock.now_ms(), payload=b"1", key="k") for i in range(10)]
    await sqlite_store.append("log", 0, events)
    report = await TopicPasses(sqlite_store, PassOptions(), clock.now_ms).run(config)
    assert report.removed == 0
    assert await sqlite_store.count_events("log") == 10
