"""The newest events of each partition, kept in memory to feed live
consumers without reading the store back — bounded per partition by count
and bytes, and across all partitions by one shared byte budget that evicts
the tails of the partitions written least recently."""

from __future__ import annotations

from collections import OrderedDict, deque

from promethean.store.records import StoredEvent

EVENT_OVERHEAD_BYTES = 200
"""Rough per-event cost beyond the payload (record, key, headers, deque slot)."""


def event_bytes(event: StoredEvent) -> int:
    return len(event.payload) + EVENT_OVERHEAD_BYTES


class TailBudget:
    """The byte budget shared by every partition's tail."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._recent: OrderedDict[int, PartitionTail] = OrderedDict()

    def touched(self, tail: PartitionTail) -> None:
        self._recent[id(tail)] = tail
        self._recent.move_to_end(id(tail))
        while self.used > self.max_bytes and self._recent:
            _, oldest = self._recent.popitem(last=False)
            if oldest is tail and not self._recent:
                oldest.trim_to(self.max_bytes)
                self._recent[id(tail)] = tail
                return
            oldest.clear()

    def forget(self, tail: PartitionTail) -> None:
        self._recent.pop(id(tail), None)


class PartitionTail:
    def __init__(self, budget: TailBudget, max_events: int, max_bytes: int) -> None:
        self._budget = budget
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._events: deque[StoredEvent] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._events)

    def extend(self, events: list[StoredEvent]) -> None:
        """Append events whose offsets follow the tail's densely."""
        for event in events:
            self._events.append(event)
            size = event_bytes(event)
            self.bytes += size
            self._budget.used += size
        while self._events and (
            len(self._events) > self._max_events or self.bytes > self._max_bytes
        ):
            self._drop_oldest()
        self._budget.touched(self)

    def _drop_oldest(self) -> None:
        size = event_bytes(self._events.popleft())
        self.bytes -= size
        self._budget.used -= size

    def trim_to(self, max_bytes: int) -> None:
        while self._events and self.bytes > max_bytes:
            self._drop_oldest()

    def drop_below(self, offset: int) -> None:
        """Forget events below ``offset`` (removed from the store by retention)."""
        while self._events and self._events[0].offset < offset:
            self._drop_oldest()

    def clear(self) -> None:
        self._budget.used -= self.bytes
        self.bytes = 0
        self._events.clear()

    def read_from(self, offset: int, limit: int) -> list[StoredEvent] | None:
        """Events from ``offset``; None when the tail doesn't reach back that
        far (the caller reads the store)."""
        events = self._events
        if not events or offset < events[0].offset:
            return None
        start = offset - events[0].offset
        if start >= len(events):
            return []
        end = min(len(events), start + limit)
        return [events[i] for i in range(start, end)]
