"""The broker's own topics: periodic ``system.metrics`` and sampled
``system.bus.audit``."""

from __future__ import annotations

import asyncio

from promethean.client import SubscribeOptions, WebSocketBusClient
from tests.fixtures.broker import BrokerFactory

EARLIEST = SubscribeOptions(start="earliest")


async def first_payload(bus: WebSocketBusClient, topic: str, group: str, match: object) -> dict:
    sub = await bus.subscribe(topic, group, options=EARLIEST)
    async with asyncio.timeout(10):
        async for message in sub:
            await message.ack()
            if callable(match) and match(message.payload):
                return message.payload
    raise AssertionError("subscription ended")


async def test_system_metrics_snapshot_is_published_periodically(
    broker_process: BrokerFactory,
) -> None:
    broker = broker_process({"PROMETHEAN_SYSTEM_METRICS_MS": "200"})
    async with WebSocketBusClient(broker.url) as bus:
        await bus.subscribe("orders", "billing")
        record = await first_payload(
            bus,
            "system.metrics",
            "ops",
            lambda p: any(g["topic"] == "orders" and g["group"] == "billing" for g in p["groups"]),
        )
    assert record["broker"]
    assert record["connections"] >= 1
    assert {"lag", "inflight", "subscribers"} <= set(record["groups"][0])


async def test_audit_records_publishes_when_sampled(broker_process: BrokerFactory) -> None:
    broker = broker_process({"PROMETHEAN_AUDIT_SAMPLE": "1"})
    async with WebSocketBusClient(broker.url) as bus:
        published = await bus.publish("orders", {"n": 1}, id="order-1")
        record = await first_payload(
            bus, "system.bus.audit", "ops", lambda p: p.get("id") == "order-1"
        )
    assert record["action"] == "publish"
    assert record["topic"] == "orders"
    assert (record["partition"], record["offset"]) == (published.partition, published.offset)


async def test_audit_is_off_by_default(broker_process: BrokerFactory) -> None:
    broker = broker_process()
    async with WebSocketBusClient(broker.url) as bus:
        await bus.publish("orders", {"n": 1})
        await asyncio.sleep(0.3)
    status, offsets = broker.get("/topics/system.bus.audit/offsets")
    assert status == 404 or all(p["latest"] == -1 for p in offsets["partitions"])
