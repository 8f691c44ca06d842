"""Invariant 2 at the wire: the committed offset is the contiguous low
watermark of acked work, persisted and never moving backwards."""

from __future__ import annotations

import asyncio

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import Frame
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import (
    committed,
    create_topic,
    eventually,
    lag_rows,
    publish_many,
)

SETTLE_S = 0.4
"""Several commit intervals (50 ms in the fast settings)."""


async def test_out_of_order_acks_wait_for_the_gap(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    broker = shared_broker
    topic = create_topic(broker, names.topic(), partitions=1)
    group = names.group()
    client = await connect(broker.url)
    await publish_many(client, topic, [f"e{i}" for i in range(6)])
    await client.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=60_000)
    messages: dict[int, Frame] = {m["offset"]: m for m in await client.take(6)}
    assert sorted(messages) == list(range(6))

    history: list[int] = []

    def durable() -> int:
        value = committed(broker, topic, group).get(0, -1)
        history.append(value)
        return value

    for offset in (1, 2, 4):
        await client.ack(messages[offset])
    await client.ping()
    await asyncio.sleep(SETTLE_S)
    assert durable() == -1, "offset 0 is unacked: nothing may be committed"
    assert lag_rows(broker, topic, group)[0]["committed"] == -1

    await client.ack(messages[0])
    await eventually(durable, lambda c: c == 2)
    await asyncio.sleep(SETTLE_S)
    assert durable() == 2, "offset 3 is unacked: the commit must stop at 2"

    await client.ack(messages[3])
    await eventually(durable, lambda c: c == 4)
    await client.ack(messages[5])
    await eventually(durable, lambda c: c == 5)
    assert lag_rows(broker, topic, group)[0] == {
        "partition": 0,
        "committed": 5,
        "latest": 5,
        "lag": 0,
        "inflight": 0,
    }
    assert history == sorted(history), f"the commit moved backwards: {history}"


async def test_acking_again_changes_nothing(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    broker = shared_broker
    topic = create_topic(broker, names.topic(), partitions=1)
    group = names.group()
    client = await connect(broker.url)
    await publish_many(client, topic, ["a", "b"])
    await client.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=60_000)
    first, second = await client.take(2)
    await client.ack(first)
    await client.ack(second)
    await client.ping()
    await eventually(lambda: committed(broker, topic, group).get(0), lambda c: c == 1)
    # Acking finished work again moves nothing and keeps the connection.
    await client.ack(first)
    await client.ping()
    await asyncio.sleep(SETTLE_S)
    assert committed(broker, topic, group)[0] == 1
    assert lag_rows(broker, topic, group)[0]["committed"] == 1


async def test_commit_survives_restart_and_the_group_resumes_after_it(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process()
    topic = create_topic(broker, names.topic(), partitions=1)
    group = names.group()
    client = await connect(broker.url)
    await publish_many(client, topic, [f"e{i}" for i in range(10)])
    await client.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=60_000)
    messages = await client.take(10)
    for message in messages[:4]:
        await client.ack(message)
    await client.ping()
    await eventually(lambda: committed(broker, topic, group).get(0), lambda c: c == 3)

    broker.restart()
    assert committed(broker, topic, group) == {0: 3}
    again = await connect(broker.url)
    # The stored position wins over the requested start.
    await again.subscribe(topic, group, from_={"kind": "latest"}, ack_timeout_ms=60_000)
    resumed = await again.take(6)
    assert [m["offset"] for m in resumed] == list(range(4, 10))
    await again.no_message(0.3)


async def test_a_new_group_starting_at_latest_keeps_its_position(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    """The start position is durable at once: a group that starts at latest
    and restarts before its first ack must not skip what came meanwhile."""
    broker = broker_process()
    topic = create_topic(broker, names.topic(), partitions=1)
    group = names.group()
    client = await connect(broker.url)
    await publish_many(client, topic, ["old-0", "old-1"])
    await client.subscribe(topic, group)
    assert committed(broker, topic, group) == {0: 1}
    await client.close()
    broker.kill()
    broker.restart()

    publisher = await connect(broker.url)
    await publish_many(publisher, topic, ["new-2", "new-3"])
    reader = await connect(broker.url)
    await reader.subscribe(topic, group, from_={"kind": "latest"})
    got = await reader.take(2)
    assert [m["envelope"]["id"] for m in got] == ["new-2", "new-3"]
