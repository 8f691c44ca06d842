"""Publishing: where events land, idempotency, what comes back, validation."""

from __future__ import annotations

import pytest

from promethean.client import SubscribeOptions
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.names import MAX_PAYLOAD_BYTES
from promethean.partitioning import partition_for
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique

EARLIEST = SubscribeOptions(start="earliest")


async def test_publish_reports_the_partition_by_key_and_dense_offsets(
    bus_harness: Harness,
) -> None:
    bus = await bus_harness.client()
    topic = unique("orders")
    partitions = bus_harness.settings.partitions
    results = [await bus.publish(topic, {"n": n}, key=f"k{n % 3}") for n in range(12)]
    by_partition: dict[int, list[int]] = {}
    for n, result in enumerate(results):
        assert result.topic == topic
        assert result.partition == partition_for(f"k{n % 3}", result.id, partitions)
        assert not result.duplicate
        by_partition.setdefault(result.partition, []).append(result.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))


async def test_unkeyed_event_is_placed_by_its_id(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    for event_id in ("evt-1", "evt-2", "evt-3", "evt-4"):
        result = await bus.publish(unique("t"), 1, id=event_id)
        assert result.id == event_id
        assert result.partition == partition_for(None, event_id, bus_harness.settings.partitions)


async def test_publishing_an_id_again_returns_the_original_and_delivers_once(
    bus_harness: Harness,
) -> None:
    bus = await bus_harness.client()
    topic = unique("payments")
    first = await bus.publish(topic, {"amount": 10}, id="pay-1")
    again = await bus.publish(topic, {"amount": 99}, id="pay-1")
    assert again.duplicate
    assert (again.partition, again.offset, again.id) == (first.partition, first.offset, "pay-1")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, options=EARLIEST)
    await bus_harness.received(rec, 1)
    await bus_harness.quiet()
    assert rec.payloads == [{"amount": 10}]


async def test_event_fields_round_trip(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("profiles")
    payload = {"name": "Zoë", "tags": ["a", "b"], "score": 1.5, "none": None, "nested": {"x": [1]}}
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec)
    published = await bus.publish(
        topic, payload, key="user-7", headers={"traceparent": "00-ab-cd-01"}, id="p-1"
    )
    [message] = await bus_harness.received(rec, 1)
    assert message.payload == payload
    assert (message.topic, message.key, message.id) == (topic, "user-7", "p-1")
    assert message.headers == {"traceparent": "00-ab-cd-01"}
    assert (message.partition, message.offset) == (published.partition, published.offset)
    assert message.attempt == 1
    assert isinstance(message.ts, int)
    assert message.ts > 0
    assert message.ack_deadline_ms is not None
    assert message.ack_deadline_ms >= message.ts


async def test_scalar_payloads_round_trip(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("scalars")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec)
    for payload in ("text", 42, None, True, [1, "two"]):
        await bus.publish(topic, payload, key="one")
    await bus_harness.received(rec, 5)
    assert rec.payloads == ["text", 42, None, True, [1, "two"]]


async def test_invalid_topic_name_is_refused_with_bad_name(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    with pytest.raises(PrometheanError) as refused:
        await bus.publish("no spaces please", 1)
    assert refused.value.code == "bad_name"


async def test_oversized_payload_is_refused(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    with pytest.raises(PrometheanError) as refused:
        await bus.publish(unique("big"), "x" * (MAX_PAYLOAD_BYTES + 10))
    assert refused.value.code == "payload_too_large"


async def test_publish_on_a_closed_client_raises_connection_lost(bus_harness: Harness) -> None:
    await bus_harness.client()
    second = await bus_harness.client()
    await second.close()
    with pytest.raises(ConnectionLostError):
        await second.publish(unique("t"), 1)
