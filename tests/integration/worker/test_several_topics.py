"""Worker processes whose handlers read two topics (one partitioned
membership per topic on one connection, as with
``PROMETHEAN_WORKER_HANDLERS=heartbeat-projector,changelog-projector@…``):
the memberships do not displace each other, every event of both topics is
handled, and the group settles instead of rebalancing in a loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from promethean.client import WebSocketBusClient
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.worker.support import RECORD_HANDLER, WorkerFactory, WorkerProcess

TOPICS = ("alpha", "beta")
GROUP = "promethean-worker"
PARTITIONS = 6
EVENTS = 600
BROKER_ENV = {
    "PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS),
    "PROMETHEAN_HEARTBEAT_MS": "300",
    "PROMETHEAN_SESSION_TIMEOUT_MS": "3000",
    "BUS_ACK_TIMEOUT_MS": "30000",
}
WORKER_ENV = {"PROMETHEAN_WORKER_HANDLERS": f"{RECORD_HANDLER}@{'|'.join(TOPICS)}"}


async def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        await asyncio.sleep(0.05)


def owned(worker: WorkerProcess, topic: str) -> set[int]:
    status, body = worker.get("/assignment")
    assert status == 200
    return set(body["topics"].get(topic, {}).get("owned", []))


def shared(workers: list[WorkerProcess]) -> bool:
    for topic in TOPICS:
        parts = [owned(w, topic) for w in workers]
        if sorted(p for part in parts for p in part) != list(range(PARTITIONS)):
            return False
        if any(not part for part in parts):
            return False
    return True


def group(broker: BrokerProcess) -> dict[str, Any]:
    status, body = broker.get(f"/groups/{GROUP}")
    assert status == 200, body
    return dict(body)


async def test_two_workers_with_two_topics_share_both_and_settle(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process(BROKER_ENV)
    workers = [worker_process(broker, WORKER_ENV, name=f"w{n}") for n in range(2)]
    await wait_until(lambda: shared(workers), 30, "both workers to share both topics")
    settled_generation = group(broker)["generation"]
    async with WebSocketBusClient(broker.url) as bus:
        for seq in range(EVENTS):
            await bus.publish(TOPICS[seq % 2], {"seq": seq}, key=f"k{seq % 20}")

    def handled() -> set[int]:
        return {r.seq for w in workers for r in w.records()}

    await wait_until(lambda: handled() == set(range(EVENTS)), 60, "every event handled")

    def lags() -> dict[str, int]:
        return {row["topic"]: row["lag"] for row in group(broker)["topics"]}

    await wait_until(lambda: lags() == dict.fromkeys(TOPICS, 0), 10, "both topics committed")
    view = group(broker)
    assert len(view["members"]) == 4, "one membership per worker and topic"
    assert view["generation"] == settled_generation, "no rebalance once settled"
    records = [r for w in workers for r in w.records()]
    assert len(records) == EVENTS, "nothing handled twice"
