"""Group commit: one writer per (topic, partition).

Publishes queue up while the previous store write is in flight; the next
write carries all of them (up to ``batch_max``) in one durable append. Each
publisher's future resolves only after that append returned, so an
acknowledged publish is durable. The writer keeps the newest events in a
bounded tail so live consumers are fed without reading the store back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from promethean.bus.tail import PartitionTail
from promethean.store.port import Store
from promethean.store.records import AppendResult, Fence, NewEvent, StoredEvent


@dataclass(slots=True)
class _Pending:
    event: NewEvent
    future: asyncio.Future[AppendResult]


AppendedCallback = Callable[[str, int, list[StoredEvent]], None]
BatchObserver = Callable[[int, float], None]


class PartitionWriter:
    def __init__(
        self,
        store: Store,
        topic: str,
        partition: int,
        *,
        fence: Fence | None,
        batch_max: int,
        tail: PartitionTail,
        on_appended: AppendedCallback,
        observe_batch: BatchObserver | None = None,
    ) -> None:
        self._store = store
        self.topic = topic
        self.partition = partition
        self._fence = fence
        self._batch_max = batch_max
        self._pending: deque[_Pending] = deque()
        self._tail = tail
        self._on_appended = on_appended
        self._observe_batch = observe_batch
        self._task: asyncio.Task[None] | None = None
        self.high_watermark = -1
        """Highest offset known durable; -1 until the first append or `load`."""

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def load(self) -> None:
        self.high_watermark = await self._store.latest_offset(self.topic, self.partition)

    def submit(self, event: NewEvent) -> asyncio.Future[AppendResult]:
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(event, future))
        if self._task is None:
            self._task = asyncio.create_task(
                self._drain(), name=f"append:{self.topic}/{self.partition}"
            )
        return future

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def sync_earliest(self) -> None:
        """Drop tail events that retention removed from the store, so they
        are not delivered from memory after the log lost them."""
        if len(self._tail):
            self._tail.drop_below(await self._store.earliest_offset(self.topic, self.partition))

    def tail_from(self, offset: int, limit: int) -> list[StoredEvent] | None:
        """Events from ``offset`` out of the tail, or None when the tail no
        longer reaches back that far (read the store instead)."""
        return self._tail.read_from(offset, limit)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                take = min(len(self._pending), self._batch_max)
                batch = [self._pending.popleft() for _ in range(take)]
                started = loop.time()
                try:
                    results = await self._store.append(
                        self.topic, self.partition, [p.event for p in batch], fence=self._fence
                    )
                except BaseException as exc:
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                elapsed = loop.time() - started
                if self._observe_batch is not None:
                    self._observe_batch(len(batch), elapsed)
                appended: list[StoredEvent] = []
                for pending, result in zip(batch, results, strict=True):
                    if not result.duplicate:
                        appended.append(_stored(self.topic, result, pending.event))
                    if not pending.future.done():
                        pending.future.set_result(result)
                if appended:
                    # Results come in input order and offsets are dense, so the
                    # appended events are already sorted by offset.
                    self._tail.extend(appended)
                    self.high_watermark = max(self.high_watermark, appended[-1].offset)
                    self._on_appended(self.topic, self.partition, appended)
        finally:
            self._task = None
            if self._pending:
                self._task = asyncio.create_task(
                    self._drain(), name=f"append:{self.topic}/{self.partition}"
                )

    async def close(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.cancel()


def _stored(topic: str, result: AppendResult, event: NewEvent) -> StoredEvent:
    return StoredEvent(
        topic=topic,
        partition=result.partition,
        offset=result.offset,
        id=event.id,
        ts=event.ts,
        payload=event.payload,
        key=event.key,
        headers=event.headers,
        caused_by=event.caused_by,
        tags=event.tags,
        sid=event.sid,
    )
