"""Three broker processes on one store (a SQLite file; a MongoDB database,
FerretDB here): every one is Ready, the partitions are spread evenly,
METADATA agrees across brokers, and a publish sent to a non-owner is refused
with the owner to send it to."""

from __future__ import annotations

from promethean.partitioning import partition_for
from tests.crash.support import opened
from tests.fixtures.broker import BrokerFactory
from tests.fixtures.cluster import (
    SETTLE_TIMEOUT_S,
    assert_fenced_history,
    by_id,
    key_for,
    metadata,
    start_cluster,
    wait_settled,
)
from tests.fixtures.wire import WireClient

TOPIC = "orders"
PARTITIONS = 12


async def test_three_brokers_share_the_partitions(
    broker_process: BrokerFactory, cluster_store: str | None
) -> None:
    brokers = start_cluster(broker_process, 3, cluster_store)
    for broker in brokers:
        assert broker.get("/healthz/ready")[0] == 200
    status, _ = brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})
    assert status in (200, 201)
    owners, _ = await wait_settled(
        brokers[0].store_url, TOPIC, PARTITIONS, by_id(brokers), SETTLE_TIMEOUT_S
    )

    replies = []
    for broker in brokers:
        async with await WireClient.connect(broker.url) as client:
            replies.append(await metadata(client, [TOPIC]))
    assert all(r["topics"] == replies[0]["topics"] for r in replies), "METADATA agrees"
    assert all(r["epoch"] == replies[0]["epoch"] for r in replies)
    assert sorted(b["id"] for b in replies[0]["brokers"]) == ["b0", "b1", "b2"]
    (routes,) = replies[0]["topics"]
    for route in routes["partitions"]:
        owner, token = owners[(TOPIC, route["partition"])]
        assert (route["owner"]["id"], route["epoch"]) == (owner, token)

    named = by_id(brokers)
    partition = next(p for (t, p), (b, _) in sorted(owners.items()) if t == TOPIC and b == "b1")
    key = key_for(partition, PARTITIONS)
    assert partition_for(key, "", PARTITIONS) == partition
    async with await WireClient.connect(named["b0"].url) as client:
        refused = await client.request(
            {"type": "PUBLISH", "topic": TOPIC, "key": key, "payload": 1, "id": "routed-1"}
        )
    assert refused["type"] == "ERR"
    assert refused["code"] == "not_owner"
    assert refused["owner"] == {
        "id": "b1",
        "address": f"ws://127.0.0.1:{named['b1'].port}",
        "epoch": owners[(TOPIC, partition)][1],
    }
    async with await WireClient.connect(refused["owner"]["address"]) as client:
        published = await client.publish(TOPIC, 1, key=key, id="routed-1")
    assert published["partition"] == partition

    async with opened(brokers[0].store_url) as store:
        assert await store.find_ids(TOPIC, ["routed-1"]) != {}
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def test_scaling_one_to_three_to_two_moves_partitions_with_nothing_lost(
    broker_process: BrokerFactory, cluster_store: str | None
) -> None:
    """Graceful moves only: each step ends balanced, and every publish sent
    to the owner named by METADATA is stored once."""
    (first,) = start_cluster(broker_process, 1, cluster_store)
    assert first.post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(first.store_url, TOPIC, PARTITIONS, ["b0"], SETTLE_TIMEOUT_S)
    assert {b for (t, _), (b, _) in owners.items() if t == TOPIC} == {"b0"}
    acked = await publish_via_metadata(first.url, "one")

    env = {"PROMETHEAN_LEASE_TTL_MS": first.env["PROMETHEAN_LEASE_TTL_MS"]}
    more = [
        broker_process({**env, "PROMETHEAN_BROKER_ID": f"b{i}"}, store_url=first.store_url)
        for i in (1, 2)
    ]
    brokers = [first, *more]
    await wait_settled(first.store_url, TOPIC, PARTITIONS, by_id(brokers), SETTLE_TIMEOUT_S)
    acked |= await publish_via_metadata(first.url, "three")

    assert more[1].terminate() == 0
    survivors = [first, more[0]]
    await wait_settled(first.store_url, TOPIC, PARTITIONS, by_id(survivors), SETTLE_TIMEOUT_S)
    acked |= await publish_via_metadata(first.url, "two")

    async with opened(first.store_url) as store:
        found = await store.find_ids(TOPIC, list(acked))
        assert {i: tuple(p) for i, p in found.items()} == acked, "nothing lost"
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def publish_via_metadata(any_broker: str, prefix: str) -> dict[str, tuple[int, int]]:
    """One event per partition, each sent to the owner METADATA names."""
    async with await WireClient.connect(any_broker) as client:
        reply = await metadata(client, [TOPIC])
    (routes,) = reply["topics"]
    acked: dict[str, tuple[int, int]] = {}
    for route in routes["partitions"]:
        partition = route["partition"]
        async with await WireClient.connect(route["owner"]["address"]) as owner:
            event_id = f"{prefix}-{partition}"
            published = await owner.publish(
                TOPIC, {"p": partition}, key=key_for(partition, PARTITIONS), id=event_id
            )
        acked[event_id] = (published["partition"], published["offset"])
    return acked
