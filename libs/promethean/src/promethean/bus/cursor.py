"""What one consumer group knows about one partition: where it is, what is
in flight, what waits for redelivery, and its commit watermark."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from promethean.bus.subscription import EventFilter, Subscription
from promethean.store.records import StoredEvent
from promethean.watermark import AckWatermark


@dataclass(slots=True)
class InFlight:
    event: StoredEvent
    sub: Subscription
    attempt: int
    deadline_ms: int


class PartitionCursor:
    def __init__(self, partition: int, committed: int, attempts: dict[int, int]) -> None:
        self.partition = partition
        self.watermark = AckWatermark(committed)
        self.persisted_commit = committed
        self.next_fetch = committed + 1
        self.buffer: deque[StoredEvent] = deque()
        self.inflight: dict[int, InFlight] = {}
        self.failed_attempts: dict[int, int] = dict(attempts)
        self.recorded_attempts: tuple[int, int] | None = (
            (min(attempts), max(attempts)) if attempts else None
        )
        """Lowest and highest offset that may have a durable attempt counter;
        None when the store holds none for offsets above the commit, so a
        commit on the happy path costs no attempt clean-up write."""
        self._retry_heap: list[tuple[int, int]] = []
        self._retry_events: dict[int, StoredEvent] = {}

    @property
    def committed(self) -> int:
        return self.watermark.committed

    @property
    def dirty(self) -> bool:
        return self.watermark.committed > self.persisted_commit

    @property
    def waiting_retry(self) -> int:
        return len(self._retry_events)

    def note_recorded_attempts(self, offsets: list[int]) -> None:
        low, high = min(offsets), max(offsets)
        if self.recorded_attempts is not None:
            low = min(low, self.recorded_attempts[0])
            high = max(high, self.recorded_attempts[1])
        self.recorded_attempts = (low, high)

    def attempts_to_clear(self, committed: int) -> bool:
        """Whether committing ``committed`` leaves attempt counters to forget;
        assumes the caller then clears them up to ``committed``."""
        recorded = self.recorded_attempts
        if recorded is None or recorded[0] > committed:
            return False
        self.recorded_attempts = None if recorded[1] <= committed else (committed + 1, recorded[1])
        return True

    def has_work(self, now_ms: int, high_watermark: int) -> bool:
        """Whether `take` could return something (possibly after a fetch)."""
        return (
            bool(self.buffer)
            or self.next_fetch <= high_watermark
            or (bool(self._retry_heap) and self._retry_heap[0][0] <= now_ms)
        )

    def needs_fetch(self, high_watermark: int) -> bool:
        return not self.buffer and self.next_fetch <= high_watermark

    def add_fetched(self, events: list[StoredEvent], up_to: int, complete: bool) -> bool:
        """Buffer events read from ``next_fetch`` up to ``up_to``. Offsets the
        read skipped no longer exist (compaction, retention) and count as
        done; ``complete`` says the read reached ``up_to``. True when the
        watermark moved."""
        moved = False
        expected = self.next_fetch
        for event in events:
            if event.offset > expected:
                moved = self.watermark.mark_range_done(expected, event.offset - 1) or moved
            if event.offset >= expected:
                self.buffer.append(event)
                expected = event.offset + 1
        if complete and expected <= up_to:
            moved = self.watermark.mark_range_done(expected, up_to) or moved
            expected = up_to + 1
        self.next_fetch = expected
        return moved

    def take(self, now_ms: int, event_filter: EventFilter | None) -> tuple[StoredEvent, int] | None:
        """The next event to hand out, with its attempt number: a due
        redelivery first, else the next fresh event that passes the filter.
        Filtered-out events are marked done on the way."""
        heap = self._retry_heap
        while heap and heap[0][0] <= now_ms:
            _, offset = heapq.heappop(heap)
            event = self._retry_events.pop(offset, None)
            if event is not None and not self.watermark.is_done(offset):
                return event, self.failed_attempts.get(offset, 0) + 1
        while self.buffer:
            event = self.buffer.popleft()
            if self.watermark.is_done(event.offset) or event.offset in self.inflight:
                continue
            if event_filter is not None and not event_filter.matches(event):
                self.watermark.mark_done(event.offset)
                continue
            return event, self.failed_attempts.get(event.offset, 0) + 1
        return None

    def next_retry_due(self) -> int | None:
        return self._retry_heap[0][0] if self._retry_heap else None

    def hand_out(self, event: StoredEvent, sub: Subscription, attempt: int, deadline: int) -> None:
        self.inflight[event.offset] = InFlight(event, sub, attempt, deadline)

    def finish(self, offset: int) -> bool:
        """Mark ``offset`` done (acked or dead-lettered). True when the
        watermark moved."""
        self.inflight.pop(offset, None)
        self._retry_events.pop(offset, None)
        self.failed_attempts.pop(offset, None)
        return self.watermark.mark_done(offset)

    def knows(self, offset: int) -> bool:
        """Whether ``offset`` was handed out and is not finished yet."""
        return offset in self.inflight or offset in self._retry_events

    def take_back(self, offset: int) -> InFlight | None:
        """Remove an in-flight hand-out (nack, expiry, lost consumer)."""
        return self.inflight.pop(offset, None)

    def schedule_retry(self, event: StoredEvent, failed_attempts: int, due_ms: int) -> None:
        self.failed_attempts[event.offset] = failed_attempts
        self._retry_events[event.offset] = event
        heapq.heappush(self._retry_heap, (due_ms, event.offset))

    def expired(self, now_ms: int) -> list[InFlight]:
        return [f for f in self.inflight.values() if f.deadline_ms <= now_ms]

    def held_by(self, sub: Subscription) -> list[InFlight]:
        return [f for f in self.inflight.values() if f.sub is sub]

    def extend(self, offset: int, deadline_ms: int) -> bool:
        flight = self.inflight.get(offset)
        if flight is None:
            return False
        flight.deadline_ms = deadline_ms
        return True
