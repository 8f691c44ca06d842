"""Group commit across partitions.

Each (topic, partition) has a `PartitionWriter` that queues its publishes;
one `GroupCommitter` per engine writes whatever every partition has queued
in one `Store.append_many` call (as few durable writes as the store
allows), up to ``batch_max`` events, while new publishes queue up for the
next write.
Each publisher's future resolves only after that write returned, so an
acknowledged publish is durable. Per partition, events keep their submit
order, and the writer keeps the newest ones in a bounded tail so live
consumers are fed without reading the store back.

Commit at once when idle, batch when busy: there is no linger timer. A
publish that finds no write in flight is written in the next turn of the
event loop, alone if it is alone; publishes that arrive while a write is in
flight wait for it and then go together. The store's durable write is the
only pacing, so batches grow with load by themselves.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from promethean.bus.grants import PartitionGrants, renewed_fences
from promethean.bus.tail import PartitionTail
from promethean.errors import FencedError, NotOwnerError
from promethean.store.ownership_records import PartitionFence
from promethean.store.port import Store
from promethean.store.records import AppendResult, Fence, NewEvent, StoredEvent

NOT_OWNED: Final = "this broker no longer owns partition {partition} of {topic!r}; ask METADATA"


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
        committer: GroupCommitter,
        tail: PartitionTail,
        on_appended: AppendedCallback,
    ) -> None:
        self._store = store
        self.topic = topic
        self.partition = partition
        self._committer = committer
        self._pending: deque[_Pending] = deque()
        self._tail = tail
        self._on_appended = on_appended
        self.high_watermark = -1
        """Highest offset known durable; -1 until the first append or `load`."""

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def load(self) -> None:
        self.high_watermark = await self._store.latest_offset(self.topic, self.partition)

    def submit(self, event: NewEvent) -> asyncio.Future[AppendResult]:
        future: asyncio.Future[AppendResult] = self._committer.loop().create_future()
        self._pending.append(_Pending(event, future))
        self._committer.wake(self)
        return future

    def take(self, limit: int) -> list[_Pending]:
        pending = self._pending
        if len(pending) <= limit:
            taken = list(pending)
            pending.clear()
            return taken
        return [pending.popleft() for _ in range(limit)]

    def complete(self, batch: list[_Pending], results: list[AppendResult]) -> None:
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

    @staticmethod
    def fail(batch: list[_Pending], error: BaseException) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(error)

    async def sync_earliest(self) -> None:
        """Drop tail events that retention removed from the store, so they
        are not delivered from memory after the log lost them."""
        if len(self._tail):
            self._tail.drop_below(await self._store.earliest_offset(self.topic, self.partition))

    def tail_from(self, offset: int, limit: int) -> list[StoredEvent] | None:
        """Events from ``offset`` out of the tail, or None when the tail no
        longer reaches back that far (read the store instead)."""
        return self._tail.read_from(offset, limit)

    def refuse(self, error: BaseException) -> None:
        """Fail every queued publish with ``error`` (the partition moved)."""
        self.fail(list(self._pending), error)
        self._pending.clear()

    def close(self) -> None:
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.cancel()


Work = list[tuple[PartitionWriter, list[_Pending]]]


class GroupCommitter:
    """Writes every partition's queued publishes together. With ``grants``
    each partition is written under its own fencing token (`append_owned`)
    and a partition whose grant is gone has its publishes refused."""

    def __init__(
        self,
        store: Store,
        *,
        fence: Fence | None,
        batch_max: int,
        observe_batch: BatchObserver | None = None,
        grants: PartitionGrants | None = None,
    ) -> None:
        self._store = store
        self._fence = fence
        self._grants = grants
        self._batch_max = batch_max
        self._observe_batch = observe_batch
        self._waiting: OrderedDict[int, PartitionWriter] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, looked up once: on CPython 3.11
        `asyncio.get_running_loop` makes a ``getpid`` system call each time,
        and this is on every publish's path."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def wake(self, writer: PartitionWriter) -> None:
        self._waiting[id(writer)] = writer
        if self._task is None and not self._closed:
            self._task = self.loop().create_task(self._drain(), name="group-commit")

    async def _drain(self) -> None:
        loop = self.loop()
        try:
            while self._waiting and not self._closed:
                work = self._collect()
                started = loop.time()
                try:
                    results = await self._write(work)
                except BaseException as exc:
                    for _, batch in work:
                        PartitionWriter.fail(batch, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                if self._observe_batch is not None:
                    self._observe_batch(sum(len(b) for _, b in work), loop.time() - started)
                for (writer, batch), written in zip(work, results, strict=True):
                    writer.complete(batch, written)
        finally:
            self._task = None
            if self._waiting and not self._closed:
                self._task = loop.create_task(self._drain(), name="group-commit")

    async def _write(self, work: Work) -> list[list[AppendResult]]:
        """Append ``work``; with grants, batches of partitions no longer
        owned (or fenced by the store) are failed with `NotOwnerError` and
        taken out of ``work``, so the results match what is left in it."""
        if self._grants is None:
            return await self._store.append_many(
                [(w.topic, w.partition, [p.event for p in batch]) for w, batch in work],
                fence=self._fence,
            )
        owned: Work = []
        fences: list[PartitionFence] = []
        for writer, batch in work:
            token = self._grants.token(writer.topic, writer.partition)
            if token is None:
                PartitionWriter.fail(batch, _not_owned(writer))
                continue
            owned.append((writer, batch))
            fences.append(PartitionFence(writer.topic, writer.partition, token))
        work[:] = owned
        if not owned:
            return []
        retried = False
        while True:
            try:
                return await self._store.append_owned(
                    [
                        (fence, [p.event for p in batch])
                        for fence, (_, batch) in zip(fences, owned, strict=True)
                    ]
                )
            except FencedError:
                renewed = None if retried else renewed_fences(self._grants, fences)
                if renewed is None:
                    break
                fences, retried = renewed, True
        self._grants.fenced((f.topic, f.partition) for f in fences)
        for writer, batch in owned:
            PartitionWriter.fail(batch, _not_owned(writer))
        work.clear()
        return []

    def _collect(self) -> Work:
        """Up to ``batch_max`` events, taken partition by partition in the
        order they started waiting; a partition with more left goes to the
        back of the line."""
        budget = self._batch_max
        work: Work = []
        for key, writer in list(self._waiting.items()):
            if budget <= 0:
                break
            batch = writer.take(budget)
            budget -= len(batch)
            del self._waiting[key]
            if writer.queued:
                self._waiting[key] = writer
            if batch:
                work.append((writer, batch))
        return work

    @property
    def idle(self) -> bool:
        """No write in flight and nothing waiting."""
        return self._task is None and not self._waiting

    async def close(self) -> None:
        self._closed = True
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _not_owned(writer: PartitionWriter) -> NotOwnerError:
    return NotOwnerError(NOT_OWNED.format(topic=writer.topic, partition=writer.partition))


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
