"""Group commit: a write starts at once when the committer is idle (no
timer), publishes that arrive while a write is in flight go together in the
next one, and a failed write fails only its own batch, leaving offsets dense."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from promethean.bus.tail import PartitionTail, TailBudget
from promethean.bus.writer import GroupCommitter, PartitionWriter
from promethean.errors import StoreUnavailableError
from promethean.store.memory import MemoryStore
from promethean.store.records import AppendResult, Fence, NewEvent, StoredEvent

Batches = Sequence[tuple[str, int, Sequence[NewEvent]]]


class GatedStore(MemoryStore):
    """A memory store that records each ``append_many`` and holds it until
    the test opens the gate; ``fail_next`` makes the next write raise."""

    def __init__(self) -> None:
        super().__init__("memory://writer-tests")
        self.writes: list[list[tuple[str, int, list[str]]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False
        self.writing = asyncio.Event()
        """Set when a write has started."""

    async def append_many(
        self, batches: Batches, *, fence: Fence | None = None
    ) -> list[list[AppendResult]]:
        self.writes.append([(t, p, [e.id for e in events]) for t, p, events in batches])
        self.writing.set()
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailableError("disk gone")
        return await super().append_many(batches, fence=fence)


@pytest.fixture
async def store() -> AsyncIterator[GatedStore]:
    opened = GatedStore()
    await opened.open()
    yield opened
    await opened.close()


def event(event_id: str) -> NewEvent:
    return NewEvent(id=event_id, ts=0, payload=b"{}")


async def writers(
    store: GatedStore, committer: GroupCommitter, count: int
) -> tuple[list[PartitionWriter], list[list[StoredEvent]]]:
    appended: list[list[StoredEvent]] = [[] for _ in range(count)]
    budget = TailBudget(1 << 20)
    made = []
    for partition in range(count):
        writer = PartitionWriter(
            store,
            "t",
            partition,
            committer=committer,
            tail=PartitionTail(budget, 100, 1 << 16),
            on_appended=lambda _t, p, events: appended[p].extend(events),
        )
        await writer.load()
        made.append(writer)
    return made, appended


async def test_an_idle_committer_writes_a_lone_publish_at_once(store: GatedStore) -> None:
    committer = GroupCommitter(store, fence=None, batch_max=100)
    (writer,), _ = await writers(store, committer, 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await writer.submit(event("a"))
    assert result.offset == 0
    assert store.writes == [[("t", 0, ["a"])]]
    # No linger: the write began in the next turn of the loop, not after a timer.
    assert loop.time() - started < 0.5
    await committer.close()


async def test_publishes_arriving_during_a_write_go_together_in_the_next(
    store: GatedStore,
) -> None:
    committer = GroupCommitter(store, fence=None, batch_max=100)
    (w0, w1), appended = await writers(store, committer, 2)
    store.gate.clear()
    first = w0.submit(event("a"))
    await asyncio.wait_for(store.writing.wait(), 5)
    later = [w0.submit(event("b")), w1.submit(event("c")), w0.submit(event("d"))]
    await asyncio.sleep(0)
    assert len(store.writes) == 1, "nothing more is written while a write is in flight"
    store.gate.set()
    results = await asyncio.gather(first, *later)
    assert store.writes == [[("t", 0, ["a"])], [("t", 0, ["b", "d"]), ("t", 1, ["c"])]]
    assert [(r.partition, r.offset) for r in results] == [(0, 0), (0, 1), (1, 0), (0, 2)]
    assert [e.offset for e in appended[0]] == [0, 1, 2]
    assert w0.high_watermark == 2
    assert w1.high_watermark == 0
    await committer.close()


async def test_a_busy_committer_caps_each_write_at_batch_max(store: GatedStore) -> None:
    committer = GroupCommitter(store, fence=None, batch_max=2)
    (writer,), _ = await writers(store, committer, 1)
    futures = [writer.submit(event(str(i))) for i in range(5)]
    results = await asyncio.gather(*futures)
    assert [len(write[0][2]) for write in store.writes] == [2, 2, 1]
    assert [r.offset for r in results] == [0, 1, 2, 3, 4]
    await committer.close()


async def test_a_failed_write_fails_its_batch_only_and_leaves_no_gap(store: GatedStore) -> None:
    committer = GroupCommitter(store, fence=None, batch_max=100)
    (writer,), appended = await writers(store, committer, 1)
    store.gate.clear()
    store.fail_next = True
    failed = writer.submit(event("lost"))
    await asyncio.wait_for(store.writing.wait(), 5)
    kept = writer.submit(event("kept"))
    store.gate.set()
    with pytest.raises(StoreUnavailableError):
        await failed
    assert (await kept).offset == 0
    assert [e.id for e in appended[0]] == ["kept"]
    assert await store.latest_offset("t", 0) == 0
    await committer.close()


async def test_close_cancels_what_is_still_queued(store: GatedStore) -> None:
    committer = GroupCommitter(store, fence=None, batch_max=100)
    (writer,), _ = await writers(store, committer, 1)
    store.gate.clear()
    in_flight = writer.submit(event("a"))
    await asyncio.wait_for(store.writing.wait(), 5)
    queued = writer.submit(event("b"))
    await committer.close()
    writer.close()
    # The write in flight was abandoned: its publisher is told, not acknowledged.
    assert isinstance(in_flight.exception(), asyncio.CancelledError)
    assert queued.cancelled()
