"""Slow and stalled consumers (issue 17, item 6).

A subscription asking for ``max_inflight`` 100,000 gets the server's cap; a
subscriber that stops reading is disconnected within a few seconds of its
socket taking nothing, and the deliveries it held go to the group's other
member long before their ack deadline (60 s here) would have sent them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from promethean.runtime.ws_sender import DEFAULT_STALL_S
from tests.faults.support import StalledSocket
from tests.fixtures.broker import BrokerFactory
from tests.fixtures.wire import WireClient
from tests.integration.gateway.support import GatewayProcess, make_token

TOPIC: Final = "slow.consumer"
EVENTS: Final = 3_000
PAYLOAD: Final = "p" * 2048
STALL_MS: Final = 1_500
LONG_ACK_MS: Final = 60_000
HANDED_BACK_WITHIN_S: Final = STALL_MS / 1000 + 20
"""A third of the ack deadline: every delivery the stalled member held came
back by the drop, none by expiry, with room for a loaded machine (3,000
acks one by one)."""
GATEWAY_WITHIN_S: Final = DEFAULT_STALL_S + 8


async def publish_many(client: WireClient, count: int, payload: object = PAYLOAD) -> None:
    batch = 200
    for start in range(0, count, batch):
        items = [
            {"topic": TOPIC, "payload": payload, "id": f"e{i}"}
            for i in range(start, min(start + batch, count))
        ]
        reply = await client.request({"type": "PUBLISH_BATCH", "items": items}, within=30)
        assert reply["type"] == "PUBLISHED_BATCH", reply


async def test_max_inflight_is_capped_by_the_server(broker_process: BrokerFactory) -> None:
    broker = broker_process(
        {"PROMETHEAN_MAX_INFLIGHT_CAP": "300", "BUS_ACK_TIMEOUT_MS": str(LONG_ACK_MS)}
    )
    async with await WireClient.connect(broker.url) as client:
        await client.subscribe(
            TOPIC,
            "capped",
            max_inflight=100_000,
            ack_timeout_ms=LONG_ACK_MS,
            **{"from": {"kind": "earliest"}},
        )
        await publish_many(client, 1_000, payload=1)
        held = await client.take(300, within=10)
        await client.no_message(1.0)
    assert len({(m["partition"], m["offset"]) for m in held}) == 300


async def test_a_stalled_subscriber_is_dropped_and_its_work_handed_back(
    broker_process: BrokerFactory,
) -> None:
    broker = broker_process(
        {"PROMETHEAN_SEND_STALL_MS": str(STALL_MS), "BUS_ACK_TIMEOUT_MS": str(LONG_ACK_MS)}
    )
    async with await WireClient.connect(broker.url) as publisher:
        await publish_many(publisher, EVENTS)
    stalled = StalledSocket(broker.port)
    try:
        stalled.send(
            {
                "type": "SUBSCRIBE",
                "topic": TOPIC,
                "group": "g",
                "max_inflight": 100_000,
                "ack_timeout_ms": LONG_ACK_MS,
                "from": {"kind": "earliest"},
            }
        )
        async with await WireClient.connect(broker.url) as reader:
            await reader.ping()
            started = time.monotonic()
            await reader.subscribe(
                TOPIC,
                "g",
                max_inflight=10_000,
                ack_timeout_ms=LONG_ACK_MS,
                from_={"kind": "earliest"},
            )
            got: set[tuple[int, int]] = set()
            while len(got) < EVENTS:
                left = HANDED_BACK_WITHIN_S - (time.monotonic() - started)
                message = await reader.next_message(within=max(left, 0.01))
                got.add((message["partition"], message["offset"]))
                await reader.ack(message)
            took = time.monotonic() - started
    finally:
        stalled.close()
    print(f"all {EVENTS} events reached the live member {took:.1f}s after the stall began")
    assert took < HANDED_BACK_WITHIN_S


async def test_a_stalled_gateway_client_is_dropped_and_its_work_handed_back(
    broker_process: BrokerFactory, tmp_path: Path
) -> None:
    broker = broker_process({"BUS_ACK_TIMEOUT_MS": str(LONG_ACK_MS)})
    gateway = GatewayProcess(broker, {"PROMETHEAN_GATEWAY_MAX_INFLIGHT": "2000"}, tmp_path)
    gateway.start()
    try:
        async with await WireClient.connect(broker.url) as publisher:
            await publish_many(publisher, EVENTS)
        stalled = StalledSocket(gateway.port)
        try:
            stalled.send({"op": "AUTH", "token": make_token(scopes=["subscribe:slow.**"])})
            stalled.send(
                {
                    "op": "SUBSCRIBE",
                    "topic": TOPIC,
                    "group": "g",
                    "opts": {"from": "earliest", "max_inflight": 2000, "ackTimeoutMs": 60000},
                }
            )
            async with await WireClient.connect(broker.url) as reader:
                started = time.monotonic()
                await reader.subscribe(
                    TOPIC, "g", ack_timeout_ms=LONG_ACK_MS, from_={"kind": "earliest"}
                )
                got: set[tuple[int, int]] = set()
                while len(got) < EVENTS:
                    left = GATEWAY_WITHIN_S - (time.monotonic() - started)
                    message = await reader.next_message(within=max(left, 0.01))
                    got.add((message["partition"], message["offset"]))
                    await reader.ack(message)
                took = time.monotonic() - started
        finally:
            stalled.close()
        dropped = gateway.metric("promethean_gateway_slow_consumer_disconnects_total")
    finally:
        gateway.kill()
    print(f"gateway: all {EVENTS} events reached the live member {took:.1f}s after the stall")
    assert dropped == 1
    assert took < GATEWAY_WITHIN_S
