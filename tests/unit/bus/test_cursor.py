"""PartitionCursor: what one group knows about one partition."""

from __future__ import annotations

from promethean.bus.cursor import PartitionCursor
from promethean.bus.subscription import EventFilter, Subscription
from promethean.store.records import StoredEvent

NOW = 1_000_000


def event(
    offset: int, *, key: str | None = None, headers: dict[str, str] | None = None
) -> StoredEvent:
    return StoredEvent(
        topic="t",
        partition=0,
        offset=offset,
        id=f"e{offset}",
        ts=NOW,
        payload=b"{}",
        key=key,
        headers=headers,
    )


class _Nobody:
    consumer_id = "nobody"

    def deliver(self, delivery: object) -> bool:
        return True

    def drop_slow(self) -> None:
        pass


def sub() -> Subscription:
    return Subscription(
        consumer=_Nobody(), topic="t", group="g", max_inflight=10, ack_timeout_ms=100
    )


def test_fresh_cursor_starts_after_the_commit() -> None:
    cursor = PartitionCursor(0, committed=4, attempts={})
    assert (cursor.committed, cursor.next_fetch, cursor.dirty) == (4, 5, False)
    assert cursor.needs_fetch(high_watermark=5)
    assert not cursor.needs_fetch(high_watermark=4)


def test_take_hands_out_in_offset_order() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0), event(1), event(2)], up_to=2, complete=True)
    assert cursor.next_fetch == 3
    taken = [cursor.take(NOW, None) for _ in range(3)]
    assert [(e.offset, attempt) for e, attempt in taken if e] == [(0, 1), (1, 1), (2, 1)]  # type: ignore[misc]
    assert cursor.take(NOW, None) is None
    assert not cursor.needs_fetch(high_watermark=2)


def test_skipped_offsets_count_as_done() -> None:
    """Offsets removed by compaction or retention are never waited for."""
    cursor = PartitionCursor(0, committed=-1, attempts={})
    moved = cursor.add_fetched([event(3), event(7)], up_to=9, complete=True)
    assert moved is True
    assert cursor.committed == 2, "0..2 were skipped, 3 is pending"
    for offset in (4, 5, 6, 8, 9):
        assert cursor.watermark.is_done(offset)
    assert cursor.next_fetch == 10
    first = cursor.take(NOW, None)
    assert first is not None
    assert first[0].offset == 3
    cursor.hand_out(first[0], sub(), first[1], NOW + 100)
    assert cursor.finish(3) is True
    assert cursor.committed == 6


def test_incomplete_read_does_not_skip_past_what_it_returned() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0), event(1)], up_to=50, complete=False)
    assert cursor.next_fetch == 2
    assert cursor.committed == -1
    assert cursor.needs_fetch(high_watermark=50) is False, "buffer still holds events"


def test_filtered_out_events_are_done_on_the_way() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched(
        [event(0, key="a"), event(1, key="b"), event(2, key="a"), event(3, key="b")],
        up_to=3,
        complete=True,
    )
    wanted = EventFilter(key="b")
    first = cursor.take(NOW, wanted)
    assert first is not None
    assert first[0].offset == 1
    assert cursor.committed == 0, "offset 0 was filtered out"
    cursor.hand_out(first[0], sub(), 1, NOW + 100)
    second = cursor.take(NOW, wanted)
    assert second is not None
    assert second[0].offset == 3
    cursor.finish(1)
    assert cursor.committed == 2


def test_header_filter() -> None:
    wanted = EventFilter(header=("kind", "x"))
    assert wanted.matches(event(0, headers={"kind": "x", "other": "y"}))
    assert not wanted.matches(event(0, headers={"kind": "y"}))
    assert not wanted.matches(event(0))
    both = EventFilter(key="k", header=("kind", "x"))
    assert both.matches(event(0, key="k", headers={"kind": "x"}))
    assert not both.matches(event(0, key="j", headers={"kind": "x"}))


def test_due_redelivery_comes_before_fresh_events_with_the_next_attempt() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0), event(1)], up_to=1, complete=True)
    taken = cursor.take(NOW, None)
    assert taken is not None
    owner = sub()
    cursor.hand_out(taken[0], owner, 1, NOW + 100)
    assert cursor.knows(0)
    assert [f.event.offset for f in cursor.expired(NOW + 100)] == [0]
    assert cursor.expired(NOW + 99) == []
    assert [f.event.offset for f in cursor.held_by(owner)] == [0]

    flight = cursor.take_back(0)
    assert flight is not None
    assert not cursor.inflight
    cursor.schedule_retry(flight.event, failed_attempts=1, due_ms=NOW + 50)
    assert cursor.knows(0), "waiting for redelivery is still known work"
    assert cursor.next_retry_due() == NOW + 50

    early = cursor.take(NOW + 10, None)
    assert early is not None
    assert early[0].offset == 1, "not due yet: fresh event first"
    due = cursor.take(NOW + 50, None)
    assert due is not None
    assert (due[0].offset, due[1]) == (0, 2)


def test_finishing_a_waiting_retry_drops_it() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0)], up_to=0, complete=True)
    taken = cursor.take(NOW, None)
    assert taken is not None
    cursor.hand_out(taken[0], sub(), 1, NOW)
    flight = cursor.take_back(0)
    assert flight is not None
    cursor.schedule_retry(flight.event, failed_attempts=1, due_ms=NOW)
    assert cursor.finish(0) is True, "a late ack of waiting work still counts"
    assert not cursor.knows(0)
    assert cursor.take(NOW + 1000, None) is None
    assert cursor.waiting_retry == 0


def test_attempts_loaded_from_the_store_continue_counting() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={0: 3})
    cursor.add_fetched([event(0)], up_to=0, complete=True)
    taken = cursor.take(NOW, None)
    assert taken is not None
    assert taken[1] == 4


def test_extend_moves_the_deadline() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0)], up_to=0, complete=True)
    taken = cursor.take(NOW, None)
    assert taken is not None
    cursor.hand_out(taken[0], sub(), 1, NOW + 100)
    assert cursor.extend(0, NOW + 5000) is True
    assert cursor.expired(NOW + 4999) == []
    assert cursor.extend(99, NOW) is False


def test_dirty_until_persisted() -> None:
    cursor = PartitionCursor(0, committed=-1, attempts={})
    cursor.add_fetched([event(0), event(1)], up_to=1, complete=True)
    for _ in range(2):
        taken = cursor.take(NOW, None)
        assert taken is not None
        cursor.hand_out(taken[0], sub(), 1, NOW + 100)
    cursor.finish(1)
    assert not cursor.dirty, "1 is done but 0 is not: nothing to commit"
    cursor.finish(0)
    assert cursor.dirty
    assert cursor.committed == 1
    cursor.persisted_commit = 1
    assert not cursor.dirty
