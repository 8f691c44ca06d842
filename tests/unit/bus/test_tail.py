"""The in-memory tail of each partition stays within its count, its bytes
and the budget shared by all partitions."""

from __future__ import annotations

from promethean.bus.tail import EVENT_OVERHEAD_BYTES, PartitionTail, TailBudget
from promethean.store.records import StoredEvent


def events(first: int, count: int, size: int, partition: int = 0) -> list[StoredEvent]:
    return [
        StoredEvent(
            topic="t",
            partition=partition,
            offset=o,
            id=f"{partition}-{o}",
            ts=0,
            payload=b"x" * size,
        )
        for o in range(first, first + count)
    ]


def test_reads_from_an_offset_inside_the_tail() -> None:
    tail = PartitionTail(TailBudget(10**9), max_events=100, max_bytes=10**9)
    tail.extend(events(0, 10, 1))
    assert [e.offset for e in tail.read_from(4, 3) or []] == [4, 5, 6]
    assert tail.read_from(10, 5) == []


def test_an_offset_older_than_the_tail_sends_the_reader_to_the_store() -> None:
    tail = PartitionTail(TailBudget(10**9), max_events=5, max_bytes=10**9)
    tail.extend(events(0, 10, 1))
    assert len(tail) == 5
    assert tail.read_from(4, 10) is None
    assert [e.offset for e in tail.read_from(5, 10) or []] == [5, 6, 7, 8, 9]


def test_a_partition_tail_is_bounded_by_bytes() -> None:
    per_event = 1000 + EVENT_OVERHEAD_BYTES
    tail = PartitionTail(TailBudget(10**9), max_events=10**6, max_bytes=per_event * 3)
    tail.extend(events(0, 50, 1000))
    assert len(tail) == 3
    assert tail.bytes <= per_event * 3


def test_the_shared_budget_evicts_the_least_recently_written_partition() -> None:
    per_event = 1000 + EVENT_OVERHEAD_BYTES
    budget = TailBudget(per_event * 10)
    first = PartitionTail(budget, max_events=10**6, max_bytes=10**9)
    second = PartitionTail(budget, max_events=10**6, max_bytes=10**9)
    first.extend(events(0, 6, 1000, partition=0))
    second.extend(events(0, 6, 1000, partition=1))
    assert budget.used <= budget.max_bytes
    assert len(first) == 0
    assert len(second) == 6


def test_one_partition_alone_is_trimmed_to_the_budget() -> None:
    per_event = 1000 + EVENT_OVERHEAD_BYTES
    budget = TailBudget(per_event * 4)
    only = PartitionTail(budget, max_events=10**6, max_bytes=10**9)
    only.extend(events(0, 20, 1000))
    assert budget.used <= budget.max_bytes
    assert [e.offset for e in only.read_from(16, 10) or []] == [16, 17, 18, 19]


def test_retention_drops_the_tail_below_the_stores_earliest_offset() -> None:
    tail = PartitionTail(TailBudget(10**9), max_events=100, max_bytes=10**9)
    tail.extend(events(0, 10, 1))
    tail.drop_below(6)
    assert tail.read_from(5, 10) is None
    assert [e.offset for e in tail.read_from(6, 10) or []] == [6, 7, 8, 9]
