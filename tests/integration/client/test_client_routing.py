"""The SDK against a scripted cluster of two or three fake brokers on
loopback (`fake_cluster`): publishes go to their partition's owner, a
``not_owner`` refusal is resent with the same id (nothing stored twice) and
gives up with a typed error, a lost link refreshes the routes and moves its
in-flight publishes, subscriptions span every owner with acks returned to
the delivering broker, and a broker that does not answer ``METADATA`` is
treated exactly as the single broker it is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

import pytest
from tests.integration.client.fake_cluster import Cluster, fake_cluster

from promethean.client import ClientConfig, WebSocketBusClient
from promethean.client.reroute import MAX_REROUTES
from promethean.client.types import Message
from promethean.errors import NotOwnerError
from promethean.partitioning import partition_for

TOPIC: Final = "orders"
WAIT_S: Final = 10.0
FAST = ClientConfig(reconnect_base_s=0.02, reconnect_max_s=0.2, connect_timeout_s=2.0)


def key_for(partition: int, partitions: int) -> str:
    """A key the partitioner puts on ``partition``."""
    return next(
        f"k{n}" for n in range(10_000) if partition_for(f"k{n}", "", partitions) == partition
    )


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with fake_cluster(3, {TOPIC: 6}) as made:
        yield made


async def client_of(cluster: Cluster) -> WebSocketBusClient:
    client = WebSocketBusClient(cluster.brokers["b0"].url, FAST)
    await client.connect()
    return client


async def test_single_broker_keeps_one_connection_and_asks_once() -> None:
    async with fake_cluster(1, {TOPIC: 4}) as cluster:
        cluster.answers_metadata = False
        async with WebSocketBusClient(cluster.brokers["b0"].url, FAST) as client:
            results = await asyncio.gather(
                *(client.publish(TOPIC, n, key=f"k{n}") for n in range(20))
            )
            assert client.brokers == [cluster.brokers["b0"].url]
        assert len({r.id for r in results}) == 20
        assert len(cluster.events) == 20
        assert cluster.metadata_requests == 1, "one METADATA at connect, none per publish"


async def test_a_one_broker_metadata_reply_keeps_one_connection() -> None:
    async with fake_cluster(1, {TOPIC: 4}) as cluster:
        client = await client_of(cluster)
        try:
            await client.publish(TOPIC, 1, key="a")
            assert client.brokers == [cluster.brokers["b0"].url]
        finally:
            await client.close()


async def test_each_publish_goes_to_its_partitions_owner(cluster: Cluster) -> None:
    client = await client_of(cluster)
    try:
        keyed = [client.publish(TOPIC, n, key=f"user-{n}") for n in range(60)]
        keyless = [client.publish(TOPIC, n) for n in range(30)]
        results = await asyncio.gather(*keyed, *keyless)
        assert len(client.brokers) == 3
    finally:
        await client.close()
    assert len(cluster.received) == 90, "no publish was refused"
    for broker_id, event_id in cluster.received:
        stored = cluster.events[(TOPIC, event_id)]
        assert cluster.topics[TOPIC][stored.partition] == broker_id
    assert {r.partition for r in results} == set(range(6))


async def test_keyless_publish_lands_where_an_owner_is_known(cluster: Cluster) -> None:
    cluster.moving.add((TOPIC, 1))
    client = await client_of(cluster)
    try:
        results = await asyncio.gather(*(client.publish(TOPIC, n) for n in range(40)))
    finally:
        await client.close()
    assert 1 not in {r.partition for r in results}
    assert len(cluster.received) == 40


@pytest.mark.parametrize("names_owner", [True, False], ids=["owner-named", "refresh"])
@pytest.mark.parametrize("batch", [False, True], ids=["publish", "batch"])
async def test_not_owner_is_resent_to_the_owner_with_the_same_id(
    cluster: Cluster, names_owner: bool, batch: bool
) -> None:
    cluster.names_owner = names_owner
    client = await client_of(cluster)
    try:
        key = key_for(0, 6)  # partition 0: b0 in the client's table
        cluster.assign(TOPIC, 0, "b2")
        count = 5 if batch else 1
        results = await asyncio.gather(
            *(client.publish(TOPIC, n, key=key, id=f"move-{n}") for n in range(count))
        )
    finally:
        await client.close()
    for n, result in enumerate(results):
        assert result.id == f"move-{n}"
        assert result.partition == 0
        assert not result.duplicate
        sent_to = [b for b, event_id in cluster.received if event_id == result.id]
        assert sent_to == ["b0", "b2"], "refused once, then sent to the new owner"
    assert len(cluster.stored_on(TOPIC, 0)) == count, "nothing stored twice"


async def test_a_publish_that_landed_before_the_move_is_answered_as_duplicate(
    cluster: Cluster,
) -> None:
    client = await client_of(cluster)
    try:
        key = key_for(0, 6)
        first = await client.publish(TOPIC, 1, key=key, id="once")
        cluster.assign(TOPIC, 0, "b1")
        again = await client.publish(TOPIC, 1, key=key, id="once")
    finally:
        await client.close()
    assert again.duplicate
    assert (again.partition, again.offset) == (first.partition, first.offset)
    assert len(cluster.stored_on(TOPIC, 0)) == 1


async def test_a_topic_created_after_connecting_is_routed(cluster: Cluster) -> None:
    client = await client_of(cluster)
    try:
        cluster.topics["users"] = ["b1", "b2"]
        results = await asyncio.gather(
            *(client.publish("users", n, key=key_for(p, 2)) for n, p in enumerate([0, 1, 0]))
        )
    finally:
        await client.close()
    assert [r.partition for r in results] == [0, 1, 0]
    assert [cluster.events[("users", r.id)].broker for r in results] == ["b1", "b2", "b1"]


async def test_refused_too_often_fails_with_a_typed_error(cluster: Cluster) -> None:
    client = await client_of(cluster)
    try:
        for broker in cluster.brokers.values():
            broker.refuse_all = True
        with pytest.raises(NotOwnerError):
            await asyncio.wait_for(client.publish(TOPIC, 1, key="x", id="nowhere"), WAIT_S)
    finally:
        await client.close()
    tries = [b for b, event_id in cluster.received if event_id == "nowhere"]
    assert len(tries) == MAX_REROUTES + 1
    assert not cluster.events


async def test_a_lost_link_refreshes_routes_and_moves_in_flight_publishes(
    cluster: Cluster,
) -> None:
    client = await client_of(cluster)
    b1 = cluster.brokers["b1"]
    try:
        key = key_for(1, 6)  # partition 1: owned by b1
        b1.silent = True
        publishing = asyncio.create_task(client.publish(TOPIC, 1, key=key, id="in-flight"))
        await asyncio.wait_for(b1.held.wait(), WAIT_S)
        requests_before = cluster.metadata_requests
        cluster.assign(TOPIC, 1, "b0")
        cluster.down.add("b1")
        await b1.stop()
        result = await asyncio.wait_for(publishing, WAIT_S)
    finally:
        await client.close()
    assert cluster.metadata_requests > requests_before, "routes refreshed after the loss"
    assert result.id == "in-flight"
    assert cluster.events[(TOPIC, "in-flight")].broker == "b0"
    assert [b for b, i in cluster.received if i == "in-flight"] == ["b1", "b0"]
    assert b1.url not in client.brokers, "no connection kept to a broker that left"


async def test_an_unreachable_owner_refreshes_the_routes(cluster: Cluster) -> None:
    client = await client_of(cluster)
    try:
        await cluster.brokers["b2"].stop()
        cluster.assign(TOPIC, 2, "b0")  # the client still routes partition 2 to b2
        result = await asyncio.wait_for(
            client.publish(TOPIC, 1, key=key_for(2, 6), id="detour"), WAIT_S
        )
    finally:
        await client.close()
    assert result.partition == 2
    assert cluster.events[(TOPIC, "detour")].broker == "b0"


async def test_a_subscription_spans_every_owner_and_acks_return_to_each(
    cluster: Cluster,
) -> None:
    client = await client_of(cluster)
    received: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await received.put(message)

    try:
        await client.subscribe(TOPIC, "g", handle)
        for broker in cluster.brokers.values():
            await asyncio.wait_for(broker.subscribed_any.wait(), WAIT_S)
        for partition, owner in enumerate(cluster.topics[TOPIC][:3]):
            await cluster.brokers[owner].deliver(TOPIC, "g", partition, 0)
        messages = [await asyncio.wait_for(received.get(), WAIT_S) for _ in range(3)]
        for broker in cluster.brokers.values():
            await asyncio.wait_for(broker.acked.wait(), WAIT_S)
        await client.unsubscribe(TOPIC, "g")
    finally:
        await client.close()
    assert sorted(m.payload["from"] for m in messages) == ["b0", "b1", "b2"]
    for partition, owner in enumerate(cluster.topics[TOPIC][:3]):
        assert cluster.brokers[owner].acks == [(TOPIC, partition, 0)]
    assert all(not b.subscribed for b in cluster.brokers.values()), "unsubscribed everywhere"
