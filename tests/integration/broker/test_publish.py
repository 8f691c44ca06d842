"""Invariants 1, 3 and 5 at the wire: a PUBLISHED reply means durable,
offsets are dense per partition, and an id is stored once per topic."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import drain, latest_offsets, publish_many, stats


async def test_published_means_durable_across_sigkill(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process()
    topic = names.topic()
    client = await connect(broker.url)
    ids = [f"durable-{i}" for i in range(300)]
    replies = await publish_many(client, topic, ids)
    # SIGKILL straight after the last reply: no drain, no flush, no goodbye.
    broker.kill()
    await client.close()

    broker.restart()
    reader = await connect(broker.url)
    group = names.group()
    await reader.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=10_000)
    seen = await drain(reader, len(ids))
    stored = {(m["partition"], m["offset"]): m["envelope"] for m in seen}
    for i, reply in enumerate(replies):
        envelope = stored[(reply["partition"], reply["offset"])]
        assert envelope["id"] == ids[i]
        assert envelope["payload"] == {"n": i}
    assert stats(broker)["events"] == len(ids)


async def test_same_id_twice_returns_the_original_position(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic = names.topic()
    client = await connect(shared_broker.url)
    before = stats(shared_broker)["events"]

    first = await client.publish(topic, {"v": 1}, id="order-42")
    again = await client.publish(topic, {"v": 2}, id="order-42")
    # A different key would hash to another partition; the id still wins.
    other_key = await client.publish(topic, {"v": 3}, id="order-42", key="elsewhere")

    assert "duplicate" not in first or first["duplicate"] is False
    for reply in (again, other_key):
        assert reply["duplicate"] is True
        assert (reply["partition"], reply["offset"], reply["id"]) == (
            first["partition"],
            first["offset"],
            "order-42",
        )
    assert stats(shared_broker)["events"] == before + 1

    reader = await connect(shared_broker.url)
    await reader.subscribe(topic, names.group(), from_={"kind": "earliest"})
    only = await reader.next_message()
    assert only["envelope"]["payload"] == {"v": 1}
    await reader.ack(only)
    await reader.no_message(0.5)


async def test_concurrent_publishes_of_one_id_store_one_event(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic = names.topic()
    clients = [await connect(shared_broker.url) for _ in range(4)]
    event_ids = [f"race-{i}" for i in range(50)]
    before = stats(shared_broker)["events"]

    results = await asyncio.gather(*(publish_many(client, topic, event_ids) for client in clients))

    for i in range(len(event_ids)):
        positions = {(r[i]["partition"], r[i]["offset"]) for r in results}
        assert len(positions) == 1, f"id {event_ids[i]} got several positions: {positions}"
        fresh = [r[i] for r in results if not r[i].get("duplicate", False)]
        assert len(fresh) == 1, f"id {event_ids[i]} was appended {len(fresh)} times"
    assert stats(shared_broker)["events"] == before + len(event_ids)


async def test_offsets_are_dense_under_concurrent_publishers(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic = names.topic()
    publishers = [await connect(shared_broker.url) for _ in range(4)]
    per_publisher = 400
    batches = await asyncio.gather(
        *(
            publish_many(
                client,
                topic,
                [f"p{n}-{i}" for i in range(per_publisher)],
                key_of=lambda i, n=n: f"k{(i * 7 + n) % 13}",
            )
            for n, client in enumerate(publishers)
        )
    )
    by_partition: dict[int, list[int]] = defaultdict(list)
    for reply in (r for batch in batches for r in batch):
        by_partition[reply["partition"]].append(reply["offset"])
    assert len(by_partition) > 1, "keys should spread over several partitions"
    for partition, offsets in by_partition.items():
        assert sorted(offsets) == list(range(len(offsets))), f"partition {partition} has gaps"
    latest = latest_offsets(shared_broker, topic)
    assert {p: o for p, o in latest.items() if o >= 0} == {
        p: len(o) - 1 for p, o in by_partition.items()
    }

    reader = await connect(shared_broker.url)
    await reader.subscribe(
        topic, names.group(), from_={"kind": "earliest"}, ack_timeout_ms=30_000, max_inflight=1000
    )
    seen = await drain(reader, per_publisher * len(publishers))
    delivered: dict[int, list[int]] = defaultdict(list)
    for message in seen:
        assert message["attempt"] == 1
        delivered[message["partition"]].append(message["offset"])
    for partition, offsets in delivered.items():
        # Each partition arrives in offset order, with nothing skipped.
        assert offsets == list(range(len(by_partition[partition])))


async def test_payload_bytes_round_trip_verbatim(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    """Operator-looking keys inside a payload stay data."""
    topic = names.topic()
    payload = {"$set": {"a.b": 1}, "$where": "sleep(1)", "nested": [None, True, 1.5, "é"]}
    client = await connect(shared_broker.url)
    await client.publish(topic, payload, id=uuid.uuid4().hex, headers={"$gt": "x"})
    await client.subscribe(topic, names.group(), from_={"kind": "earliest"})
    message = await client.next_message()
    assert message["envelope"]["payload"] == payload
    assert message["envelope"]["headers"] == {"$gt": "x"}


async def test_publish_batch_answers_per_item_in_order(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, other = names.topic(), names.topic()
    client = await connect(shared_broker.url)
    first = await client.publish(topic, {"before": True}, id="b-1")
    reply = await client.request(
        {
            "type": "PUBLISH_BATCH",
            "items": [
                {"topic": topic, "payload": {"i": 0}, "id": "b-1"},
                {"topic": topic, "payload": {"i": 1}, "id": "b-2", "key": "k"},
                {"topic": other, "payload": {"i": 2}},
                {"topic": topic, "payload": {"i": 3}, "id": "b-2"},
            ],
        }
    )
    assert reply["type"] == "PUBLISHED_BATCH", reply
    results = reply["results"]
    assert [r["topic"] for r in results] == [topic, topic, other, topic]
    assert results[0]["duplicate"] is True
    assert (results[0]["partition"], results[0]["offset"]) == (first["partition"], first["offset"])
    assert results[1].get("duplicate", False) is False
    assert results[3]["duplicate"] is True
    assert (results[3]["partition"], results[3]["offset"]) == (
        results[1]["partition"],
        results[1]["offset"],
    )
    assert results[2]["offset"] == 0


async def test_unknown_fields_are_ignored(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic = names.topic()
    client = await connect(shared_broker.url)
    reply = await client.request(
        {"type": "PUBLISH", "topic": topic, "payload": 1, "future_field": {"$gt": 1}}
    )
    assert reply["type"] == "PUBLISHED"
    reply = await client.request({"type": "PING", "extra": [1, 2]})
    assert reply["type"] == "PONG"
