"""Deliveries in transit, ordered by the fake-clock time they arrive.

Nothing here runs by itself: the broker pops what is due when the test (or
an inline call) asks, so the same test gives the same interleaving each run.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from promethean.client.mock.config import Ordering

T = TypeVar("T")


@dataclass(order=True, slots=True)
class _Entry(Generic[T]):
    due_ms: int
    seq: int
    item: T = field(compare=False)


class Scheduler(Generic[T]):
    def __init__(self, ordering: Ordering, seed: int) -> None:
        self._ordering = ordering
        self._rng = random.Random(f"{seed}:order")
        self._heap: list[_Entry[T]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, due_ms: int, item: T) -> None:
        heapq.heappush(self._heap, _Entry(due_ms, next(self._seq), item))

    def next_due_after(self, now_ms: int) -> int | None:
        """The earliest due time strictly later than ``now_ms``."""
        later = [e.due_ms for e in self._heap if e.due_ms > now_ms]
        return min(later, default=None)

    def pop_due(self, now_ms: int) -> list[T]:
        """Everything due by ``now_ms``: in due order, or shuffled (seeded)."""
        due: list[T] = []
        while self._heap and self._heap[0].due_ms <= now_ms:
            due.append(heapq.heappop(self._heap).item)
        if self._ordering is Ordering.SHUFFLE and len(due) > 1:
            self._rng.shuffle(due)
        return due

    def discard(self, unwanted: Callable[[T], bool]) -> list[T]:
        """Remove and return the items ``unwanted`` selects."""
        gone = [e.item for e in self._heap if unwanted(e.item)]
        if gone:
            self._heap = [e for e in self._heap if not unwanted(e.item)]
            heapq.heapify(self._heap)
        return gone
