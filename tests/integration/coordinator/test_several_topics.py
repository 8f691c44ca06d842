"""One client holding several partitioned memberships of one group, one per
topic (a worker with handlers on different topics): the memberships live
side by side instead of displacing each other, and scaling such workers
1 → 3 → 2 loses nothing and repeats only what was in flight."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from promethean.client import Message
from promethean.client.port import PartitionedHandle
from promethean.client.ws import WebSocketBusClient
from tests.fixtures.broker import BrokerProcess
from tests.fixtures.ownership import assert_exclusive
from tests.integration.broker.helpers import eventually
from tests.integration.coordinator.conftest import group_view

ALL = frozenset({0, 1, 2, 3})


class Seen:
    def __init__(self) -> None:
        self.handled: Counter[tuple[str, int]] = Counter()

    async def handle(self, message: Message) -> None:
        self.handled[(message.topic, message.payload["n"])] += 1

    def of(self, topic: str) -> set[int]:
        return {n for (t, n) in self.handled if t == topic}


class Worker:
    """A client with one partitioned membership per topic, like the worker."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.client = WebSocketBusClient(url)
        self.handles: dict[str, PartitionedHandle] = {}

    async def start(self, topics: list[str], group: str, seen: Seen) -> Worker:
        await self.client.connect()
        for topic in topics:
            self.handles[topic] = await self.client.subscribe_partitioned(
                topic,
                group,
                seen.handle,  # type: ignore[arg-type]
                instance_id=self.name,
            )
        return self


def _owned(workers: list[Worker], topic: str) -> list[frozenset[int]]:
    return [w.handles[topic].assigned for w in workers]


def _split(owned: list[frozenset[int]]) -> bool:
    union: set[int] = set()
    for part in owned:
        if union & part:
            return False
        union |= part
    return union == ALL


async def test_two_memberships_on_one_client_both_hold_their_partitions(
    broker: BrokerProcess, names: Callable[[str], str]
) -> None:
    first, second, group = names("beats"), names("changes"), names("projectors")
    seen = Seen()
    producer = WebSocketBusClient(broker.url)
    await producer.connect()
    worker = await Worker(broker.url, "w1").start([first, second], group, seen)
    try:
        for topic in (first, second):
            await eventually(lambda t=topic: worker.handles[t].assigned, lambda o: o == ALL)
        # The admin view is written after the ASSIGNMENT goes out: wait for it.
        generation = max(h.generation for h in worker.handles.values())
        await eventually(lambda: group_view(broker, group)["generation"], lambda g: g == generation)
        for n in range(200):
            await producer.publish(first, {"n": n}, key=f"k{n % 8}")
            await producer.publish(second, {"n": n}, key=f"k{n % 8}")
        await eventually(
            lambda: (seen.of(first), seen.of(second)),
            lambda got: got == (set(range(200)), set(range(200))),
            within=20,
        )
        view = await eventually(
            lambda: group_view(broker, group),
            lambda v: all(row["lag"] == 0 for row in v["topics"]) and len(v["topics"]) == 2,
            within=10,
        )
        # No membership displaced the other: no rebalance after the two joins.
        assert view["generation"] == generation
        assert len(view["members"]) == 2
        assert max(seen.handled.values()) == 1, "an event was processed twice"
    finally:
        await worker.client.close()
        await producer.close()


async def test_workers_with_two_topics_scale_one_three_two(
    broker: BrokerProcess, names: Callable[[str], str]
) -> None:
    topics = [names("beats"), names("changes")]
    group = names("projectors")
    seen = Seen()
    producer = WebSocketBusClient(broker.url)
    await producer.connect()
    workers: list[Worker] = []
    sent = 0

    async def publish(count: int) -> None:
        nonlocal sent
        for n in range(sent, sent + count):
            for topic in topics:
                await producer.publish(topic, {"n": n}, key=f"k{n % 16}")
        sent += count

    try:
        workers.append(await Worker(broker.url, "w1").start(topics, group, seen))
        await publish(150)
        workers.append(await Worker(broker.url, "w2").start(topics, group, seen))
        workers.append(await Worker(broker.url, "w3").start(topics, group, seen))
        await publish(150)
        for topic in topics:
            await eventually(lambda t=topic: _owned(workers, t), _split, within=15)
        leaving = workers.pop()
        await leaving.client.close()
        await publish(150)
        for topic in topics:
            await eventually(lambda t=topic: _owned(workers, t), _split, within=15)
        await eventually(
            lambda: [seen.of(t) for t in topics],
            lambda got: all(s == set(range(sent)) for s in got),
            within=30,
        )
    finally:
        for worker in workers:
            await worker.client.close()
        await producer.close()
    repeats = sum(count - 1 for count in seen.handled.values())
    # Only work in flight while a partition moved may run twice.
    assert repeats <= 10, f"{repeats} events processed twice"
    view = await eventually(lambda: group_view(broker, group), lambda v: v["members"] == [])
    assert_exclusive(view["log"])
    assert {row["topic"]: row["lag"] for row in view["topics"]} == dict.fromkeys(topics, 0)
