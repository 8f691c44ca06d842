"""`subscribe_partitioned` on the mock broker: the same coordinator and
client-side subscription as with a real broker, in process."""

from __future__ import annotations

import asyncio

from promethean.client import BusClient, Message
from promethean.client.port import PartitionedHandle
from promethean.testing import InMemoryBroker


async def _settled(bus: InMemoryBroker, rounds: int = 20) -> None:
    for _ in range(rounds):
        await bus.drain()
        await asyncio.sleep(0)


async def test_two_members_split_the_partitions_and_process_in_order(
    bus: InMemoryBroker,
) -> None:
    seen: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    hooks: list[tuple[str, str, set[int]]] = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(message: Message) -> None:
            seen[name].append((message.partition, message.offset))

        return handle

    def hook(name: str, kind: str):  # type: ignore[no-untyped-def]
        async def record(partitions: set[int]) -> None:
            hooks.append((name, kind, partitions))

        return record

    client_a, client_b = bus.new_client("a"), bus.new_client("b")
    assert isinstance(client_a, BusClient)
    a = await client_a.subscribe_partitioned(
        "orders", "proj", handler("a"), on_assigned=hook("a", "assigned")
    )
    assert isinstance(a, PartitionedHandle)
    await _settled(bus)
    partitions = len(a.assigned)
    assert partitions > 1
    b = await client_b.subscribe_partitioned(
        "orders", "proj", handler("b"), on_revoked=hook("b", "revoked")
    )
    await _settled(bus)
    assert a.assigned.isdisjoint(b.assigned)
    assert len(a.assigned | b.assigned) == partitions
    assert abs(len(a.assigned) - len(b.assigned)) <= 1
    assert a.generation == b.generation == 2

    for n in range(60):
        await bus.publish("orders", {"n": n}, key=f"k{n % 7}")
    await _settled(bus)
    everything = seen["a"] + seen["b"]
    assert len(everything) == len(set(everything)) == 60
    assert {p for p, _ in seen["a"]} <= a.assigned
    for name in ("a", "b"):
        for partition in {p for p, _ in seen[name]}:
            offsets = [o for p, o in seen[name] if p == partition]
            assert offsets == sorted(offsets)

    owned_by_b = set(b.assigned)
    await b.stop()
    await _settled(bus)
    assert len(a.assigned) == partitions
    assert b.assigned == frozenset()
    assert ("b", "revoked", owned_by_b) in hooks
    assert hooks[0] == ("a", "assigned", set(range(partitions)))
