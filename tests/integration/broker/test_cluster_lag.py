"""Cluster-wide lag from any broker: three brokers share one SQLite file, a
shared group consumes through the routing client, and every broker's
``/metrics`` and ``/lag`` report the lag of all the topic's partitions
(those other brokers write read from the store), each partition once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from promethean.client import ClientConfig, Message, SubscribeOptions, WebSocketBusClient
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.cluster import SETTLE_TIMEOUT_S, by_id, key_for, start_cluster, wait_settled
from tests.integration.broker.test_metrics_labels import matching, scrape

TOPIC = "orders"
GROUP = "billing"
PARTITIONS = 12
WAIT_S = 20.0


def metrics_lag(broker: BrokerProcess) -> tuple[dict[str, float], dict[str, float]]:
    """partition → lag and partition → committed offset of the group."""
    samples = scrape(broker)
    lags: dict[str, float] = {}
    commits: dict[str, float] = {}
    for (name, labels), value in samples.items():
        found = dict(labels)
        if found.get("topic") != TOPIC or found.get("group") != GROUP:
            continue
        if name == "promethean_consumer_lag":
            lags[found["partition"]] = value
        elif name == "promethean_committed_offset":
            commits[found["partition"]] = value
    assert len(
        matching(samples, "promethean_consumer_lag", lambda ls: ls.get("group") == GROUP)
    ) == len(lags), "each partition once"
    return lags, commits


async def every_broker_reports(brokers: list[BrokerProcess], expected: dict[str, float]) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        seen = {str(b.env["PROMETHEAN_BROKER_ID"]): metrics_lag(b)[0] for b in brokers}
        if all(lags == expected for lags in seen.values()):
            return
        assert time.monotonic() < deadline, f"lag by broker: {seen}"
        await asyncio.sleep(0.1)


async def test_every_broker_reports_the_lag_of_every_partition(
    broker_process: BrokerFactory,
) -> None:
    brokers = start_cluster(broker_process, 3, extra_env={"PROMETHEAN_LAG_REFRESH_MS": "200"})
    status, _ = brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})
    assert status in (200, 201)
    await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, by_id(brokers), SETTLE_TIMEOUT_S)
    keys = [key_for(p, PARTITIONS) for p in range(PARTITIONS)]
    first_batch_done = asyncio.Event()
    handled: set[str] = set()
    release = asyncio.Event()

    async def handle(message: Message) -> None:
        payload: Any = message.payload
        if payload["batch"] == 1:
            handled.add(message.key or "")
            if len(handled) == PARTITIONS:
                first_batch_done.set()
            return
        await release.wait()  # the second batch stays unacked: lag 1 per partition

    async with WebSocketBusClient(brokers[0].url, ClientConfig(stop_grace_s=1.0)) as bus:
        for key in keys:
            await bus.publish(TOPIC, {"batch": 1}, key=key)
        await bus.subscribe(
            TOPIC,
            GROUP,
            handle,
            options=SubscribeOptions(start="earliest", ack_timeout_ms=60_000),
        )
        await asyncio.wait_for(first_batch_done.wait(), WAIT_S)
        await every_broker_reports(brokers, {str(p): 0.0 for p in range(PARTITIONS)})
        for key in keys:
            await bus.publish(TOPIC, {"batch": 2}, key=key)
        await every_broker_reports(brokers, {str(p): 1.0 for p in range(PARTITIONS)})
        for broker in brokers:
            _, commits = metrics_lag(broker)
            assert commits == {str(p): 0.0 for p in range(PARTITIONS)}
            status, body = broker.get(f"/lag?topic={TOPIC}&group={GROUP}")
            assert status == 200, body
            assert body["lag"] == PARTITIONS
            assert {r["partition"]: r["committed"] for r in body["partitions"]} == dict.fromkeys(
                range(PARTITIONS), 0
            )
        release.set()
