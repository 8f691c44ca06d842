"""The broker and the gateway publish the enriched heartbeat every service
sends to ``heartbeat.received`` (the worker, drainer and compactor have
their own tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promethean.client import SubscribeOptions, WebSocketBusClient
from promethean.runtime.heartbeat import HEARTBEAT_TOPIC
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.gateway.support import GatewayProcess

FIELDS = {"pid", "name", "host", "connected", "queue", "inflight", "last_progress_ts", "avg_job_ms"}
FAST_HEARTBEAT = {"PROMETHEAN_HEARTBEAT_MS": "200"}


async def heartbeat_of(broker: BrokerProcess, name: str) -> dict[str, Any]:
    async with WebSocketBusClient(broker.url) as bus:
        sub = await bus.subscribe(
            HEARTBEAT_TOPIC, f"probe-{name}", options=SubscribeOptions(start="earliest")
        )
        async with asyncio.timeout(15):
            async for message in sub:
                await message.ack()
                if message.payload.get("name") == name:
                    record: dict[str, Any] = message.payload
                    assert message.key == f"{record['host']}:{name}:{record['pid']}"
                    return record
    raise AssertionError("subscription ended")


async def test_the_broker_publishes_its_heartbeat(broker_process: BrokerFactory) -> None:
    broker = broker_process(FAST_HEARTBEAT)
    record = await heartbeat_of(broker, "broker")
    assert set(record) >= FIELDS
    assert record["pid"] == broker.pid
    assert record["connected"] is True
    assert record["last_progress_ts"] > 0


@pytest.fixture
def gateway_stack(tmp_path: Path) -> Iterator[tuple[BrokerProcess, GatewayProcess]]:
    brokers = BrokerFactory(tmp_path)
    gateway: GatewayProcess | None = None
    try:
        broker = brokers()
        gateway = GatewayProcess(broker, FAST_HEARTBEAT, tmp_path)
        gateway.start()
        yield broker, gateway
    finally:
        if gateway is not None:
            gateway.kill()
        brokers.kill_all()


async def test_the_gateway_publishes_its_heartbeat(
    gateway_stack: tuple[BrokerProcess, GatewayProcess],
) -> None:
    broker, _ = gateway_stack
    record = await heartbeat_of(broker, "gateway")
    assert set(record) >= FIELDS
    assert record["connected"] is True
