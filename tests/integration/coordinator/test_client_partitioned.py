"""`subscribe_partitioned` of the WebSocket client against a real broker:
members split the partitions, scale up and down cooperatively, and keep
per-key order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from promethean.client import Message
from promethean.client.port import PartitionedHandle
from promethean.client.ws import WebSocketBusClient
from tests.fixtures.broker import BrokerProcess
from tests.fixtures.ownership import assert_exclusive
from tests.integration.broker.helpers import eventually
from tests.integration.coordinator.conftest import group_view

ALL = frozenset({0, 1, 2, 3})
KEYS = 16


class Recorder:
    """What every member processed, in processing order, and its hooks."""

    def __init__(self) -> None:
        self.processed: list[tuple[str, str, int]] = []  # (member, key, n)
        self.hooks: list[tuple[str, str, set[int]]] = []
        self.running: dict[tuple[str, int], int] = defaultdict(int)
        self.overlaps = 0

    def handler(self, name: str) -> Callable[[Message], object]:
        async def handle(message: Message) -> None:
            lane = (message.topic, message.partition)
            self.running[lane] += 1
            if self.running[lane] > 1:
                self.overlaps += 1
            await asyncio.sleep(0.001)
            self.processed.append((name, message.key or "", message.payload["n"]))
            self.running[lane] -= 1

        return handle

    def hook(self, name: str, kind: str) -> Callable[[set[int]], object]:
        async def record(partitions: set[int]) -> None:
            assert isinstance(partitions, set)
            self.hooks.append((name, kind, partitions))

        return record

    def numbers(self) -> set[int]:
        return {n for _, _, n in self.processed}


async def _join(
    broker: BrokerProcess, recorder: Recorder, name: str, topic: str, group: str
) -> tuple[WebSocketBusClient, PartitionedHandle]:
    client = WebSocketBusClient(broker.url)
    await client.connect()
    handle = await client.subscribe_partitioned(
        topic,
        group,
        recorder.handler(name),  # type: ignore[arg-type]
        instance_id=name,
        on_assigned=recorder.hook(name, "assigned"),  # type: ignore[arg-type]
        on_revoked=recorder.hook(name, "revoked"),  # type: ignore[arg-type]
    )
    return client, handle


async def test_members_scale_one_two_one_without_losing_or_reordering(
    broker: BrokerProcess, names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("projectors")
    recorder = Recorder()
    producer = WebSocketBusClient(broker.url)
    await producer.connect()
    clients: list[WebSocketBusClient] = [producer]
    try:
        first_client, first = await _join(broker, recorder, "w1", topic, group)
        clients.append(first_client)
        await eventually(lambda: first.assigned, lambda owned: owned == ALL)

        async def publish(start: int, count: int) -> None:
            await asyncio.gather(
                *(
                    producer.publish(topic, {"n": n}, key=f"k{n % KEYS}")
                    for n in range(start, start + count)
                )
            )

        await publish(0, 300)
        second_client, second = await _join(broker, recorder, "w2", topic, group)
        clients.append(second_client)
        await publish(300, 300)
        await eventually(
            lambda: (first.assigned, second.assigned),
            lambda owned: len(owned[0]) == 2 and owned[0] | owned[1] == ALL,
        )
        assert first.generation == second.generation > 0
        await publish(600, 300)
        await first.stop()  # LEAVE: its partitions move to w2
        await publish(900, 300)
        await eventually(lambda: second.assigned, lambda owned: owned == ALL)
        await eventually(recorder.numbers, lambda seen: seen == set(range(1200)), within=20)
    finally:
        for client in clients:
            await client.close()

    # Per key, events were processed in publish order; a repeat can only be
    # an event that was in flight when its partition moved.
    by_key: dict[str, list[int]] = defaultdict(list)
    for _, key, n in recorder.processed:
        by_key[key].append(n)
    duplicates = 0
    for key, ns in by_key.items():
        firsts = [n for i, n in enumerate(ns) if n not in ns[:i]]
        assert firsts == sorted(firsts), f"{key} processed out of order: {ns}"
        duplicates += len(ns) - len(firsts)
    assert duplicates <= 5, f"{duplicates} events processed twice"
    assert recorder.overlaps == 0, "two handlers ran at once on one partition"

    w1_hooks = [(kind, parts) for name, kind, parts in recorder.hooks if name == "w1"]
    assert w1_hooks[0] == ("assigned", set(ALL))
    revoked_from_w1 = set().union(*(p for kind, p in w1_hooks if kind == "revoked"))
    assert revoked_from_w1 == set(ALL)
    # Both members left (w2 with its client's close): nobody owns anything.
    view = await eventually(lambda: group_view(broker, group), lambda v: v["members"] == [])
    assert_exclusive(view["log"])
    rows = {row["topic"]: row for row in view["topics"]}
    assert rows[topic]["lag"] == 0


async def test_partitions_added_while_members_run_are_shared_and_read(
    broker: BrokerProcess, names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("projectors")
    status, _ = broker.post("/topics", {"name": topic, "partitions": 2})
    assert status == 201
    recorder = Recorder()
    producer = WebSocketBusClient(broker.url)
    await producer.connect()
    clients: list[WebSocketBusClient] = [producer]
    try:
        first_client, first = await _join(broker, recorder, "w1", topic, group)
        second_client, second = await _join(broker, recorder, "w2", topic, group)
        clients += [first_client, second_client]
        await eventually(
            lambda: (first.assigned, second.assigned),
            lambda owned: owned[0] | owned[1] == {0, 1} and not owned[0] & owned[1],
        )
        before = await asyncio.gather(
            *(producer.publish(topic, {"n": n}, key=f"k{n % KEYS}") for n in range(100))
        )
        assert {p.partition for p in before} == {0, 1}

        status, grown = broker.post("/topics", {"name": topic, "partitions": 6})
        assert (status, grown["partitions"]) == (200, 6)
        after = await asyncio.gather(
            *(producer.publish(topic, {"n": n}, key=f"k{n % KEYS}") for n in range(100, 400))
        )
        assert {p.partition for p in after} - {0, 1}, "keys now reach the new partitions"
        await eventually(
            lambda: (first.assigned, second.assigned),
            lambda owned: owned[0] | owned[1] == set(range(6)) and not owned[0] & owned[1],
            within=10,
        )
        await eventually(recorder.numbers, lambda seen: seen == set(range(400)), within=20)
    finally:
        for client in clients:
            await client.close()
    assert recorder.overlaps == 0
    view = await eventually(lambda: group_view(broker, group), lambda v: v["members"] == [])
    assert_exclusive(view["log"])
