"""Small helpers shared by the broker integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tests.fixtures.broker import BrokerProcess
from tests.fixtures.wire import Frame, WireClient, WireError

T = TypeVar("T")


async def publish_many(
    client: WireClient,
    topic: str,
    ids: Sequence[str],
    *,
    window: int = 200,
    key_of: Callable[[int], str | None] = lambda i: None,
) -> list[Frame]:
    """Publish one event per id with up to ``window`` in flight; returns the
    ``PUBLISHED`` replies in id order. Payload ``{"n": i}``."""
    slots = asyncio.Semaphore(window)

    async def one(i: int, event_id: str) -> Frame:
        async with slots:
            return await client.publish(topic, {"n": i}, id=event_id, key=key_of(i), within=30)

    return list(await asyncio.gather(*(one(i, e) for i, e in enumerate(ids))))


async def drain(
    client: WireClient, count: int, *, within: float = 20.0, ack: bool = True
) -> list[Frame]:
    """Receive ``count`` messages, acking each as it arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    got: list[Frame] = []
    while len(got) < count:
        left = deadline - loop.time()
        if left <= 0:
            raise WireError(f"got {len(got)} of {count} messages within {within}s")
        message = await client.next_message(left)
        got.append(message)
        if ack:
            await client.ack(message)
    return got


async def eventually(
    probe: Callable[[], T], check: Callable[[T], bool], *, within: float = 5.0, every: float = 0.05
) -> T:
    """Call ``probe`` until ``check`` accepts its value; the last value is
    shown when it never does."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if check(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(every)


def committed(broker: BrokerProcess, topic: str, group: str) -> dict[int, int]:
    """Partition → committed offset as ``GET /cursors`` reports it (durable)."""
    status, body = broker.get(f"/cursors?topic={topic}")
    assert status == 200, body
    for row in body["groups"]:
        if row["group"] == group:
            return {int(p): o for p, o in row["partitions"].items()}
    return {}


def lag_rows(broker: BrokerProcess, topic: str, group: str) -> dict[int, dict[str, Any]]:
    status, body = broker.get(f"/lag?topic={topic}&group={group}")
    assert status == 200, body
    return {row["partition"]: row for row in body["partitions"]}


def stats(broker: BrokerProcess) -> dict[str, int]:
    status, body = broker.get("/stats")
    assert status == 200, body
    return dict(body["store"])


def latest_offsets(broker: BrokerProcess, topic: str) -> dict[int, int]:
    status, body = broker.get(f"/topics/{topic}/offsets")
    assert status == 200, body
    return {row["partition"]: row["latest"] for row in body["partitions"]}


def create_topic(broker: BrokerProcess, topic: str, **config: Any) -> str:
    status, body = broker.post("/topics", {"name": topic, **config})
    assert status == 201, body
    return topic
