"""Compaction, tombstone expiry, retention, counts and stats."""

from __future__ import annotations

from promethean.store import NewOutboxRow, Store, TopicConfig
from promethean.store.records import TOMBSTONE_PAYLOAD

from .builders import BASE_TS, event, fill, offsets_of

TOPIC = "orders"


async def test_compaction_keeps_the_latest_of_each_key_and_keyless_events(store: Store) -> None:
    keys = ["a", "b", "a", None, "b", "a", None, "c"]
    await store.append(TOPIC, 0, [event(f"e{i}", key=k) for i, k in enumerate(keys)])

    removed = await store.compact_partition(TOPIC, 0, 8)

    assert removed == 3
    assert await offsets_of(store, TOPIC, 0) == [3, 4, 5, 6, 7]
    assert await store.find_ids(TOPIC, ["e0", "e1", "e2", "e5"]) == {"e5": (0, 5)}
    assert await store.latest_offset(TOPIC, 0) == 7
    assert await store.earliest_offset(TOPIC, 0) == 3


async def test_compaction_only_looks_below_the_boundary(store: Store) -> None:
    keys = ["a", "a", "b", "a", "b", "a", "c", "c"]
    await store.append(TOPIC, 0, [event(f"e{i}", key=k) for i, k in enumerate(keys)])

    removed = await store.compact_partition(TOPIC, 0, 4)

    assert removed == 2  # offsets 0 and 1; 3 is the latest "a" below 4, 2 the only "b"
    assert await offsets_of(store, TOPIC, 0) == [2, 3, 4, 5, 6, 7]
    assert await store.compact_partition(TOPIC, 0, 4) == 0


async def test_reads_skip_compacted_offsets(store: Store) -> None:
    keys = ["a", "a", "a", "b", "a"]
    await store.append(TOPIC, 0, [event(f"e{i}", key=k) for i, k in enumerate(keys)])
    await store.compact_partition(TOPIC, 0, 5)

    assert [e.offset for e in await store.read(TOPIC, 0, 0, 1)] == [3]
    assert [e.offset for e in await store.read(TOPIC, 0, 1, 100)] == [3, 4]
    assert [e.offset for e in await store.read(TOPIC, 0, 0, 100, key="a")] == [4]
    latest = await store.latest_by_key(TOPIC, "a")
    assert latest is not None
    assert latest.offset == 4
    assert await store.offset_for_timestamp(TOPIC, 0, 0) == 3


async def test_delete_tombstones_removes_old_latest_tombstones_only(store: Store) -> None:
    old, recent = BASE_TS, BASE_TS + 10_000
    await store.append(
        TOPIC,
        0,
        [
            event("a-put", key="a", ts=old),
            event("a-del", key="a", ts=old, payload=TOMBSTONE_PAYLOAD),
            event("b-del", key="b", ts=old, payload=TOMBSTONE_PAYLOAD),
            event("b-put", key="b", ts=old),
            event("c-del", key="c", ts=recent, payload=TOMBSTONE_PAYLOAD),
            event("keyless", ts=old),
            event("d-del", key="d", ts=old, payload=TOMBSTONE_PAYLOAD),
        ],
    )
    assert await store.compact_partition(TOPIC, 0, 7) == 2  # a-put, b-del

    removed = await store.delete_tombstones(TOPIC, 0, 6, BASE_TS + 5_000)

    assert removed == 1  # a-del; c-del is too recent, d-del is not below offset 6
    assert await offsets_of(store, TOPIC, 0) == [3, 4, 5, 6]
    assert await store.latest_by_key(TOPIC, "a") is None
    assert await store.latest_offset(TOPIC, 0) == 6


async def test_delete_below_removes_a_prefix_and_keeps_latest(store: Store) -> None:
    await fill(store, TOPIC, 0, 10)

    assert await store.delete_below(TOPIC, 0, 6) == 6

    assert await offsets_of(store, TOPIC, 0) == [6, 7, 8, 9]
    assert await store.earliest_offset(TOPIC, 0) == 6
    assert await store.latest_offset(TOPIC, 0) == 9
    assert await store.delete_below(TOPIC, 0, 6) == 0

    assert await store.delete_below(TOPIC, 0, 100) == 4

    assert await store.latest_offset(TOPIC, 0) == 9
    assert await store.earliest_offset(TOPIC, 0) == 10
    assert await store.offset_for_timestamp(TOPIC, 0, 0) == 10
    (next_one,) = await store.append(TOPIC, 0, [event("after-retention")])
    assert next_one.offset == 10


async def test_delete_below_with_a_timestamp_keeps_newer_events(store: Store) -> None:
    stamps = [100, 300, 200, 400, 100, 500]
    await store.append(TOPIC, 0, [event(f"t{i}", ts=ts) for i, ts in enumerate(stamps)])

    removed = await store.delete_below(TOPIC, 0, 5, ts_before_ms=250)

    assert removed == 3
    assert await offsets_of(store, TOPIC, 0) == [1, 3, 5]


async def test_count_events_per_partition_and_topic(store: Store) -> None:
    await fill(store, TOPIC, 0, 3, prefix="zero-")
    await fill(store, TOPIC, 1, 2, prefix="one-")
    await fill(store, "invoices", 0, 4)
    await store.delete_below(TOPIC, 0, 1)

    assert await store.count_events(TOPIC, 0) == 2
    assert await store.count_events(TOPIC, 1) == 2
    assert await store.count_events(TOPIC) == 4
    assert await store.count_events(TOPIC, 7) == 0
    assert await store.count_events("nothing") == 0


async def test_stats_report_row_counts_by_collection(store: Store) -> None:
    await fill(store, TOPIC, 0, 3)
    await fill(store, "invoices", 1, 2)
    await store.commit("billing", TOPIC, {0: 1})
    await store.create_topic(TopicConfig(name=TOPIC, partitions=2))
    await store.outbox_insert(
        [NewOutboxRow(id=f"r{i}", topic=TOPIC, payload=b"{}", created_ms=i) for i in range(4)]
    )
    await store.acquire_lease("leader", "me", 1_000, 0)
    await store.put_schema("orders", {"type": "object"})

    stats = await store.stats()

    expected = {
        "events",
        "counters",
        "group_offsets",
        "delivery_attempts",
        "group_members",
        "topic_configs",
        "outbox",
        "leases",
        "schemas",
    }
    assert expected <= set(stats)
    assert all(isinstance(n, int) and n >= 0 for n in stats.values())
    assert stats["events"] == 5
    assert stats["group_offsets"] == 1
    assert stats["topic_configs"] == 1
    assert stats["outbox"] == 4
    assert stats["leases"] == 1
    assert stats["schemas"] == 1
    assert stats["group_members"] == 0
    assert stats["delivery_attempts"] == 0
