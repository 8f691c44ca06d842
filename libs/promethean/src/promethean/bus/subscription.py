"""A consumer's subscription to (topic, group): its limits and what it holds."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Protocol

from promethean.store.records import StoredEvent


class StartKind(enum.StrEnum):
    LATEST = "latest"
    EARLIEST = "earliest"
    OFFSET = "offset"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True, slots=True)
class StartPosition:
    """Where a group with no committed offset on a partition begins."""

    kind: StartKind = StartKind.LATEST
    value: int | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Only events with this key and/or this header value are delivered; the
    rest count as done for the group's commit."""

    key: str | None = None
    header: tuple[str, str] | None = None

    def matches(self, event: StoredEvent) -> bool:
        if self.key is not None and event.key != self.key:
            return False
        if self.header is not None:
            name, value = self.header
            if event.headers is None or event.headers.get(name) != value:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Delivery:
    """One hand-out of one event to one subscription."""

    group: str
    event: StoredEvent
    attempt: int
    ack_deadline_ms: int


class Consumer(Protocol):
    """Where deliveries go: a WebSocket connection, or a mock subscriber.

    ``deliver`` must not block; it returns False when the consumer's bounded
    buffer is full, and the engine then treats the consumer as too slow."""

    @property
    def consumer_id(self) -> str: ...

    def deliver(self, delivery: Delivery) -> bool: ...

    def drop_slow(self) -> None: ...


_sub_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Subscription:
    consumer: Consumer
    topic: str
    group: str
    max_inflight: int
    ack_timeout_ms: int
    credits: int | None = None
    """None: no credit limit. Otherwise deliveries left before a FLOW."""
    partitions: frozenset[int] | None = None
    """None: all partitions (competing consumers). Set for partitioned members."""
    generation: int = 0
    inflight: int = 0
    sub_id: int = field(default_factory=lambda: next(_sub_ids))
    active: bool = True

    def has_capacity(self) -> bool:
        return (
            self.active
            and self.inflight < self.max_inflight
            and (self.credits is None or self.credits > 0)
        )

    def takes(self, partition: int) -> bool:
        return self.partitions is None or partition in self.partitions
