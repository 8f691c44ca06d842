"""Appending to a partition without relying on transactions.

Offsets are assigned in process: each (topic, partition) has an
`asyncio.Lock` and a cached next offset (loaded on first use as
``max(counters.next, max(offset) + 1)``). The unique
``(topic, partition, offset)`` index is what makes this safe against other
processes: a writer whose cached offset is stale collides, reloads and
retries the rest of its batch, so offsets stay dense and nothing is ever
overwritten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from pymongo.errors import BulkWriteError, DuplicateKeyError

from promethean.errors import StoreError
from promethean.store.mongo.base import PartitionSlot
from promethean.store.mongo.codecs import event_document
from promethean.store.mongo.collections import COUNTERS, EVENTS, LEASES, PARTITION_OWNERS
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import is_duplicate_key, translated
from promethean.store.mongo.leases import check_fence
from promethean.store.mongo.log import LogReads, counter_id
from promethean.store.mongo.ownership import check_fences
from promethean.store.ownership_records import PartitionFence
from promethean.store.records import AppendResult, Fence, NewEvent

Guard = Callable[[], Awaitable[None]]
"""Checked before each insert round; raises `FencedError` to stop the append."""

MAX_APPEND_ROUNDS: Final = 16
TOO_MUCH_CONTENTION: Final = (
    "append to {topic!r} partition {partition} kept colliding with another writer "
    "({rounds} rounds); {left} of {total} events were not stored"
)


class _Plan:
    """One round of an append: the documents to insert and, for every
    pending event, which document (by index) will hold it."""

    def __init__(self) -> None:
        self.docs: list[Document] = []
        self.doc_of_event: dict[int, int] = {}
        self.repeats: set[int] = set()


class LogAppends(LogReads):
    async def append_many(
        self,
        batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
        *,
        fence: Fence | None = None,
    ) -> list[list[AppendResult]]:
        """See `LogStore.append_many`: without multi-document transactions
        each partition is its own majority write, in order."""
        return [
            await self.append(topic, partition, events, fence=fence)
            for topic, partition, events in batches
        ]

    @translated
    async def append(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        *,
        fence: Fence | None = None,
    ) -> list[AppendResult]:
        """See `LogStore.append`.

        Fencing reads the lease document and compares its token before each
        insert round. The remaining race window: a new holder may take the
        lease between that check and the insert, so one batch of the old
        holder can still land after the handover. It lands at fresh dense
        offsets (the unique offset index refuses any overwrite, and the new
        holder's colliding insert reloads and continues after it); the old
        holder's next round sees the new token and stops with `FencedError`.
        """
        guard: Guard | None = None
        if fence is not None:
            leases, lease = self._col(LEASES), fence

            async def guard() -> None:
                await check_fence(leases, lease)

        return await self._append_guarded(topic, partition, events, guard, None)

    @translated
    async def append_owned(
        self, batches: Sequence[tuple[PartitionFence, Sequence[NewEvent]]]
    ) -> list[list[AppendResult]]:
        """See `OwnershipStore.append_owned`: every fence is checked first
        (a stale one refuses every batch), then each batch is its own
        majority write, its fence checked again before each insert round
        (the window `append` describes applies to each)."""
        owners = self._col(PARTITION_OWNERS)
        await check_fences(owners, (fence for fence, _ in batches))
        results: list[list[AppendResult]] = []
        for fence, events in batches:

            async def guard(fence: PartitionFence = fence) -> None:
                await check_fences(owners, [fence])

            results.append(
                await self._append_guarded(fence.topic, fence.partition, events, guard, fence.token)
            )
        return results

    async def _append_guarded(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        guard: Guard | None,
        fence_token: int | None,
    ) -> list[AppendResult]:
        if not events:
            return []
        slot = self._slot(topic, partition)
        async with slot.lock:
            try:
                return await self._append_locked(topic, partition, events, guard, fence_token, slot)
            except BaseException:
                slot.next_offset = None  # unknown how much landed: reload next time
                raise

    async def _append_locked(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        guard: Guard | None,
        fence_token: int | None,
        slot: PartitionSlot,
    ) -> list[AppendResult]:
        results: list[AppendResult | None] = [None] * len(events)
        pending = list(range(len(events)))
        known: dict[str, tuple[int, int]] = {}
        appended = False
        for _ in range(MAX_APPEND_ROUNDS):
            if guard is not None:
                await guard()
            unknown = [events[i].id for i in pending if events[i].id not in known]
            known.update(await self._find_ids(topic, unknown))
            if slot.next_offset is None:
                slot.next_offset = await self._stored_next_offset(topic, partition)
            base = slot.next_offset
            plan = self._plan(topic, partition, base, events, pending, known, results)
            if fence_token is not None:
                for doc in plan.docs:
                    doc["fence_token"] = fence_token
            inserted, collided = await self._insert(plan.docs)
            for i, doc_index in plan.doc_of_event.items():
                if doc_index < inserted:
                    offset = base + doc_index
                    results[i] = AppendResult(
                        partition, offset, events[i].id, duplicate=i in plan.repeats
                    )
                    known[events[i].id] = (partition, offset)
            slot.next_offset = base + inserted
            appended = appended or inserted > 0
            pending = [i for i in pending if results[i] is None]
            if not collided:
                break
            slot.next_offset = None  # another writer holds offsets we thought free
        if appended:
            await self._advance_counter(
                topic, partition, await self._next_after(slot, topic, partition)
            )
        if pending:
            raise StoreError(
                TOO_MUCH_CONTENTION.format(
                    topic=topic,
                    partition=partition,
                    rounds=MAX_APPEND_ROUNDS,
                    left=len(pending),
                    total=len(events),
                )
            )
        return [result for result in results if result is not None]

    @staticmethod
    def _plan(
        topic: str,
        partition: int,
        base: int,
        events: Sequence[NewEvent],
        pending: list[int],
        known: dict[str, tuple[int, int]],
        results: list[AppendResult | None],
    ) -> _Plan:
        """Assign offsets from ``base`` to the pending events whose ids are
        new; events whose id is already stored get their `AppendResult`
        written into ``results`` right away."""
        plan = _Plan()
        doc_of_id: dict[str, int] = {}
        for i in pending:
            event = events[i]
            stored = known.get(event.id)
            if stored is not None:
                results[i] = AppendResult(stored[0], stored[1], event.id, duplicate=True)
            elif event.id in doc_of_id:
                plan.doc_of_event[i] = doc_of_id[event.id]
                plan.repeats.add(i)
            else:
                doc_of_id[event.id] = plan.doc_of_event[i] = len(plan.docs)
                plan.docs.append(event_document(topic, partition, base + len(plan.docs), event))
        return plan

    async def _insert(self, docs: list[Document]) -> tuple[int, bool]:
        """Insert in order; returns (how many landed, whether one collided)."""
        if not docs:
            return 0, False
        try:
            await self._col(EVENTS).insert_many(docs, ordered=True)
        except BulkWriteError as error:
            if not is_duplicate_key(error):
                raise
            first_failed = min(e["index"] for e in error.details["writeErrors"])
            return int(first_failed), True
        return len(docs), False

    async def _next_after(self, slot: PartitionSlot, topic: str, partition: int) -> int:
        if slot.next_offset is None:
            slot.next_offset = await self._stored_next_offset(topic, partition)
        return slot.next_offset

    async def _advance_counter(self, topic: str, partition: int, next_offset: int) -> None:
        """Raise ``counters.next`` to ``next_offset`` (``$max``: never back)."""
        update = {
            "$max": {"next": next_offset},
            "$setOnInsert": {"topic": topic, "partition": partition},
        }
        counters = self._col(COUNTERS)
        async with self._read_modify_write():
            try:
                await counters.update_one(
                    {"_id": counter_id(topic, partition)}, update, upsert=True
                )
            except DuplicateKeyError:  # two first upserts raced; the document exists now
                await counters.update_one({"_id": counter_id(topic, partition)}, update)
