"""Helpers for crash tests: a publisher that records what was acknowledged,
a consumer that reconnects after each crash, and direct store checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from promethean.store import Store, open_store
from promethean.store.records import StoredEvent
from tests.fixtures.wire import WireClient, WireError

READ_PAGE = 5_000


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[Store]:
    store = open_store(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@dataclass
class AckLedger:
    """Every PUBLISHED reply, by id: the position the broker promised."""

    acked: dict[str, tuple[int, int]] = field(default_factory=dict)
    duplicates: int = 0
    _target: int | None = None
    _reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_acked(self, count: int, publisher: asyncio.Task[list[str]]) -> None:
        """Until ``count`` publishes in all were acknowledged or ``publisher``
        finished, whichever comes first."""
        self._target = count
        self._reached.clear()
        if len(self.acked) >= count:
            return
        reached = asyncio.ensure_future(self._reached.wait())
        try:
            await asyncio.wait({reached, publisher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reached.cancel()

    async def publish(
        self, url: str, topic: str, ids: Iterable[str], *, connections: int = 2, window: int = 300
    ) -> list[str]:
        """Publish ``ids`` until done or the broker dies; returns the ids
        without an acknowledgement."""
        pending = list(ids)
        clients: list[WireClient] = []
        try:
            for _ in range(connections):
                clients.append(await WireClient.connect(url))
        except (TimeoutError, OSError, WireError):
            for client in clients:
                await client.close()
            return pending
        slots = asyncio.Semaphore(window)
        unacked: list[str] = []

        async def one(index: int, event_id: str) -> None:
            client = clients[index % len(clients)]
            async with slots:
                if client.closed.is_set():
                    unacked.append(event_id)
                    return
                try:
                    reply = await client.publish(topic, {"id": event_id}, id=event_id, within=10)
                except (ConnectionError, WireError, RuntimeError):
                    unacked.append(event_id)
                    return
            self.acked[event_id] = (reply["partition"], reply["offset"])
            if self._target is not None and len(self.acked) >= self._target:
                self._reached.set()
            if reply.get("duplicate"):
                self.duplicates += 1

        try:
            await asyncio.gather(*(one(i, e) for i, e in enumerate(pending)))
        finally:
            for client in clients:
                await client.close()
        return unacked


@dataclass
class Auditor:
    """A consumer group member that acks everything it gets and notes, per
    connection, the first offset it was handed on each partition."""

    topic: str
    group: str
    seen: set[str] = field(default_factory=set)
    deliveries: int = 0
    _awaited: set[str] = field(default_factory=set)
    _all_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_seen(self, ids: set[str], within: float) -> None:
        """Until every id in ``ids`` was delivered (or ``within`` passed)."""
        self._awaited = ids - self.seen
        if not self._awaited:
            return
        self._all_seen.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_seen.wait(), within)

    async def consume(self, url: str, stop: asyncio.Event) -> dict[int, int]:
        """Consume until the connection dies or ``stop`` is set; returns
        partition → first offset delivered on this connection."""
        firsts: dict[int, int] = {}
        try:
            client = await WireClient.connect(url)
        except (OSError, WireError):
            return firsts
        try:
            await client.subscribe(
                self.topic,
                self.group,
                from_={"kind": "earliest"},
                max_inflight=2_000,
                ack_timeout_ms=60_000,
            )
            while not stop.is_set() and not client.closed.is_set():
                try:
                    message = await client.next_message(within=0.2)
                except WireError:
                    continue
                firsts.setdefault(message["partition"], message["offset"])
                event_id = message["envelope"]["id"]
                self.seen.add(event_id)
                if self._awaited:
                    self._awaited.discard(event_id)
                    if not self._awaited:
                        self._all_seen.set()
                self.deliveries += 1
                await client.ack(message)
        except (ConnectionError, WireError, RuntimeError):
            pass
        finally:
            await client.close()
        return firsts


async def read_partition(store: Store, topic: str, partition: int) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    while True:
        page = await store.read(topic, partition, len(events), READ_PAGE)
        events.extend(page)
        if len(page) < READ_PAGE:
            return events


async def check_log(
    store: Store, topic: str, partitions: int, acked: dict[str, tuple[int, int]]
) -> int:
    """Dense offsets per partition, every id once, every acknowledged id at
    the promised position. Returns how many events are stored."""
    positions: dict[str, tuple[int, int]] = {}
    counts: Counter[str] = Counter()
    for partition in range(partitions):
        events = await read_partition(store, topic, partition)
        offsets = [e.offset for e in events]
        assert offsets == list(range(len(events))), f"partition {partition}: offsets not dense"
        assert await store.latest_offset(topic, partition) == len(events) - 1
        for event in events:
            counts[event.id] += 1
            positions[event.id] = (partition, event.offset)
    repeated = {i: n for i, n in counts.items() if n > 1}
    assert not repeated, f"ids stored more than once: {list(repeated)[:10]}"
    missing = [i for i in acked if i not in positions]
    assert not missing, f"{len(missing)} acknowledged ids are not stored, e.g. {missing[:5]}"
    moved = {i: (acked[i], positions[i]) for i in acked if acked[i] != positions[i]}
    assert not moved, f"acknowledged positions differ from stored ones: {list(moved.items())[:5]}"
    return sum(counts.values())


async def durable_commits(store: Store, group: str, topic: str) -> dict[int, int]:
    return {p: c.offset for p, c in (await store.get_commits(group, topic)).items()}
