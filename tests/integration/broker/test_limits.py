"""Invariant 6 at the wire: connection limits, publish admission and the
per-connection send buffer keep the broker's memory bounded; a slow
consumer slows itself, never the broker."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import psutil
import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import WireClient
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import create_topic, eventually, stats

MIB = 1024 * 1024
SLOW_EVENTS = 20_000
TAIL_CACHE_EVENTS = 8192
RSS_GROWTH_LIMIT = 30 * MIB
"""Well under the ~40 MiB of frames the slow consumer is offered (20,000
events of 2 KB): a broker buffering for it could not stay below."""


async def test_connections_beyond_the_limit_are_refused(
    broker_process: BrokerFactory, connect: Connect
) -> None:
    broker = broker_process({"PROMETHEAN_MAX_CONNECTIONS": "3"})
    clients = [await connect(broker.url) for _ in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await WireClient.connect(broker.url)
    assert refused.value.status == 503
    status, body = broker.get("/healthz/live")
    assert status == 200, body

    await clients[0].close()
    # The slot frees once the broker has seen the close.
    replacement = None
    for _ in range(40):
        try:
            replacement = await connect(broker.url)
            break
        except aiohttp.WSServerHandshakeError:
            await asyncio.sleep(0.05)
    assert replacement is not None
    await replacement.ping()
    for client in clients[1:]:
        await client.ping()


async def test_publishes_beyond_the_queue_are_refused_not_queued(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process({"PROMETHEAN_PUBLISH_QUEUE_MAX": "8"})
    client = await connect(broker.url)
    topic = names.topic()
    frames = [
        {"type": "PUBLISH", "topic": topic, "payload": {"i": i}, "id": f"q{i}", "corr": i}
        for i in range(400)
    ]
    futures = [client.expect(i) for i in range(len(frames))]
    for frame in frames:
        await client.send(frame)
    replies = await asyncio.wait_for(asyncio.gather(*futures), 20)
    published = [r for r in replies if r["type"] == "PUBLISHED"]
    refused = [r for r in replies if r["type"] == "ERR"]
    assert refused, "400 pipelined publishes against a queue of 8 must hit the limit"
    assert published, "admission must not refuse everything"
    for reply in refused:
        assert reply["code"] == "overloaded"
        assert reply["retry_after_ms"] > 0
    assert stats(broker)["events"] == len(published)


async def test_slow_consumer_is_dropped_and_broker_memory_stays_flat(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process(
        {
            "PROMETHEAN_MAX_FRAME_BYTES": str(64 * 1024),
            "PROMETHEAN_SEND_BUFFER_BYTES": str(256 * 1024),
            "BUS_ACK_TIMEOUT_MS": "600000",
        }
    )
    process = psutil.Process(broker.pid)
    topic, group = names.topic(), names.group()
    create_topic(broker, topic, partitions=1)
    payload = {"blob": "z" * 2000}
    publisher = await connect(broker.url)
    per_batch = 25  # frames are capped at 64 KiB here
    slots = asyncio.Semaphore(8)

    async def publish_batch() -> None:
        batch = [{"topic": topic, "payload": payload} for _ in range(per_batch)]
        async with slots:
            reply = await publisher.request({"type": "PUBLISH_BATCH", "items": batch}, within=30)
        assert reply["type"] == "PUBLISHED_BATCH", reply

    async def push(events: int) -> None:
        await asyncio.gather(*(publish_batch() for _ in range(events // per_batch)))

    # Warm up first, so the writer's bounded tail cache (8192 recent events
    # per partition) and the store's page cache are full before measuring.
    await push(TAIL_CACHE_EVENTS + 1000)

    session = aiohttp.ClientSession(read_bufsize=4096)
    try:
        # A consumer that subscribes, then never reads its socket again.
        known = _peer_ports(process)
        slow = await session.ws_connect(broker.url)
        (slow_port,) = _peer_ports(process) - known
        subscribe = {"type": "SUBSCRIBE", "topic": topic, "group": group, "corr": "s"}
        await slow.send_str(json.dumps({**subscribe, "max_inflight": 100_000}))
        reply = json.loads((await slow.receive(timeout=5)).data)
        assert reply["type"] == "SUBSCRIBED"

        baseline = process.memory_info().rss
        started = time.monotonic()
        await push(SLOW_EVENTS)
        elapsed = time.monotonic() - started
        growth = process.memory_info().rss - baseline

        assert growth < RSS_GROWTH_LIMIT, f"broker RSS grew {growth / MIB:.1f} MiB"
        assert elapsed < 60, f"the slow consumer held publishers back ({elapsed:.1f}s)"
        # The broker gave up on the consumer instead of buffering for it,
        # and let go of its socket although the consumer never read a byte.
        await eventually(lambda: _subscribers(broker, group), lambda n: n == 0)
        await eventually(
            lambda: _peer_ports(process),
            lambda ports: slow_port not in ports,
            within=10,
        )
        # Reading again, the consumer finds the connection ended: with the
        # close code when the close frame got through, else cut off.
        received = 0
        while True:
            msg = await slow.receive(timeout=10)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            received += 1
        assert msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
        if msg.type is aiohttp.WSMsgType.CLOSE:
            assert msg.data == 4008
        assert received < SLOW_EVENTS
        await slow.close()
        await publisher.ping()
    finally:
        await session.close()


def _peer_ports(process: psutil.Process) -> set[int]:
    """Remote ports of the broker's open TCP connections."""
    return {c.raddr.port for c in process.net_connections("tcp") if c.raddr}


def _subscribers(broker: BrokerProcess, group: str) -> int:
    status, body = broker.get(f"/groups/{group}")
    assert status == 200, body
    return int(body["subscribers"])
