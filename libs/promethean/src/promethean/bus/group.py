"""One consumer group on one topic: its subscriptions share the partitions'
events (competing consumers), each partition's fresh events handed out in
offset order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from promethean.bus.cursor import InFlight, PartitionCursor
from promethean.bus.hooks import EngineHooks
from promethean.bus.subscription import Delivery, EventFilter, Subscription
from promethean.clock import Clock
from promethean.store.records import StoredEvent

log = logging.getLogger("promethean.bus")


class LogSource(Protocol):
    """The engine's view of a topic's partitions for readers."""

    def high_watermark(self, topic: str, partition: int) -> int: ...

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int, up_to: int
    ) -> list[StoredEvent]: ...


class GroupTopic:
    def __init__(
        self,
        group: str,
        topic: str,
        cursors: dict[int, PartitionCursor],
        *,
        event_filter: EventFilter | None,
        log: LogSource,
        clock: Clock,
        fetch_batch: int,
        on_wake: Callable[[GroupTopic], None],
        hooks: EngineHooks,
    ) -> None:
        self._hooks = hooks
        self.group = group
        self.topic = topic
        self.cursors = cursors
        self._partitions = sorted(cursors)
        self.event_filter = event_filter
        self.subs: list[Subscription] = []
        self.generation = 0
        self._log = log
        self._clock = clock
        self._fetch_batch = fetch_batch
        self._on_wake = on_wake
        self._rr_sub = 0
        self._rr_partition = 0
        self.wanted = asyncio.Event()
        self.delivered = 0

    def wake(self) -> None:
        self.wanted.set()
        self._on_wake(self)

    def add_cursors(self, cursors: dict[int, PartitionCursor]) -> None:
        """Partitions the topic grew by; read from now on like the others."""
        for partition, cursor in cursors.items():
            self.cursors.setdefault(partition, cursor)
        self._partitions = sorted(self.cursors)

    @property
    def inflight(self) -> int:
        return sum(len(c.inflight) for c in self.cursors.values())

    def lag(self, partition: int) -> int:
        cursor = self.cursors.get(partition)
        if cursor is None:
            return 0
        return max(0, self._log.high_watermark(self.topic, partition) - cursor.committed)

    async def dispatch(self) -> int:
        """Hand out everything the subscriptions have room for; returns how
        many deliveries were made."""
        self.wanted.clear()
        made = 0
        while True:
            # Only partitions with something to hand out are offered, so a
            # wake-up costs O(members) rather than O(members * partitions)
            # when most partitions are idle.
            ready = self._ready_partitions()
            if not ready:
                break
            progressed = False
            subs = self.subs
            count = len(subs)
            start = self._rr_sub
            for i in range(count):
                sub = subs[(start + i) % count]
                if not sub.has_capacity():
                    continue
                picked = await self._pick(sub, ready)
                if picked is None:
                    if not ready:
                        break
                    continue
                cursor, event, attempt = picked
                now = self._clock.now_ms()
                deadline = now + sub.ack_timeout_ms
                cursor.hand_out(event, sub, attempt, deadline)
                sub.inflight += 1
                if sub.credits is not None:
                    sub.credits -= 1
                made += 1
                progressed = True
                # The next pass starts after the member served last, so a
                # member that holds its deliveries cannot starve the others.
                self._rr_sub = (start + i + 1) % count
                self._hooks.delivered(self.topic, self.group, cursor.partition, attempt)
                try:
                    accepted = sub.consumer.deliver(Delivery(self.group, event, attempt, deadline))
                except Exception:
                    # A consumer that cannot take a delivery is treated like
                    # one that stopped reading: dropped, its work given back.
                    log.exception("delivery failed; dropping the consumer")
                    accepted = False
                if not accepted:
                    sub.active = False
                    sub.consumer.drop_slow()
            if not progressed:
                break
        self.delivered += made
        return made

    def _ready_partitions(self) -> list[int]:
        now = self._clock.now_ms()
        return [
            p
            for p in self._partitions
            if self.cursors[p].has_work(now, self._log.high_watermark(self.topic, p))
        ]

    async def _pick(
        self, sub: Subscription, ready: list[int]
    ) -> tuple[PartitionCursor, StoredEvent, int] | None:
        """The next event for ``sub`` from the ``ready`` partitions; a
        partition found empty is removed from ``ready``."""
        now = self._clock.now_ms()
        n = len(ready)
        start = self._rr_partition % n if n else 0
        exhausted: list[int] = []
        picked: tuple[PartitionCursor, StoredEvent, int] | None = None
        for i in range(n):
            partition = ready[(start + i) % n]
            if not sub.takes(partition):
                continue
            cursor = self.cursors[partition]
            taken = cursor.take(now, self.event_filter)
            if taken is None:
                hwm = self._log.high_watermark(self.topic, partition)
                if cursor.needs_fetch(hwm):
                    events = await self._log.read(
                        self.topic, partition, cursor.next_fetch, self._fetch_batch, hwm
                    )
                    complete = len(events) < self._fetch_batch
                    cursor.add_fetched(events, hwm, complete)
                    taken = cursor.take(now, self.event_filter)
            if taken is not None:
                self._rr_partition = start + i + 1
                picked = (cursor, taken[0], taken[1])
                break
            exhausted.append(partition)
        for partition in exhausted:
            ready.remove(partition)
        return picked

    def held_by(self, sub: Subscription) -> list[tuple[PartitionCursor, InFlight]]:
        return [(c, f) for c in self.cursors.values() for f in c.held_by(sub)]

    def pending_commits(self) -> dict[int, int]:
        return {p: c.committed for p, c in self.cursors.items() if c.dirty}

    def mark_persisted(self, commits: dict[int, int]) -> None:
        for partition, offset in commits.items():
            cursor = self.cursors.get(partition)
            if cursor is not None:
                cursor.persisted_commit = max(cursor.persisted_commit, offset)
