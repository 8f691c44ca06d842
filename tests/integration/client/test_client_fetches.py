"""A partitioned member against a scripted cluster (`fake_cluster`): it
JOINs at the owner of partition 0 (the coordinator) whichever broker it was
given, FETCHes its other partitions from their owners, acks each delivery
on the connection that brought it, and FETCHes again where a partition
moved."""

from __future__ import annotations

import asyncio
from typing import Final

from tests.integration.client.fake_cluster import Cluster, fake_cluster

from promethean.client import ClientConfig, Message, WebSocketBusClient

TOPIC: Final = "orders"
GROUP: Final = "fulfil"
WAIT_S: Final = 10.0
FAST = ClientConfig(reconnect_base_s=0.02, reconnect_max_s=0.2, connect_timeout_s=2.0)


def placed(cluster: Cluster) -> dict[str, list[int]]:
    """The last FETCH each broker got."""
    last: dict[str, list[int]] = {}
    for broker, _, partitions in cluster.fetches:
        last[broker] = partitions
    return last


async def until(cluster: Cluster, expected: dict[str, list[int]]) -> None:
    async with asyncio.timeout(WAIT_S):
        while placed(cluster) != expected:
            cluster.fetched.clear()
            await cluster.fetched.wait()


async def test_a_member_joins_the_coordinator_and_fetches_from_each_owner() -> None:
    async with fake_cluster(3, {TOPIC: 6}) as cluster:
        handled: list[tuple[int, int]] = []

        async def handle(message: Message) -> None:
            handled.append((message.partition, message.offset))

        async with WebSocketBusClient(cluster.brokers["b1"].url, FAST) as client:
            member = await client.subscribe_partitioned(TOPIC, GROUP, handle)
            await until(cluster, {"b1": [1, 4], "b2": [2, 5]})
            assert cluster.joins == [("b0", member.member_id)], "JOIN at partition 0's owner"

            await cluster.brokers["b1"].deliver(TOPIC, GROUP, 4, 0)
            await asyncio.wait_for(cluster.brokers["b1"].acked.wait(), WAIT_S)
            assert cluster.brokers["b1"].acks == [(TOPIC, 4, 0)], "acked where delivered"
            assert handled == [(4, 0)]

            cluster.assign(TOPIC, 4, "b2")
            await until(cluster, {"b1": [1], "b2": [2, 4, 5]})
            cluster.assign(TOPIC, 1, "b0")
            await until(cluster, {"b1": [], "b2": [2, 4, 5]})


async def test_a_join_refused_with_not_owner_goes_to_the_new_coordinator() -> None:
    async with fake_cluster(3, {TOPIC: 6}) as cluster:

        async def handle(message: Message) -> None:
            return None

        async with WebSocketBusClient(cluster.brokers["b0"].url, FAST) as client:
            cluster.assign(TOPIC, 0, "b1")  # the client's routes still name b0
            member = await client.subscribe_partitioned(TOPIC, GROUP, handle)
            assert cluster.joins == [("b1", member.member_id)]
            await until(cluster, {"b0": [3], "b2": [2, 5]})
