"""Losing the broker: SIGKILL with publishes in flight, restart on the same
store and port; every publish call returns, each event is stored once, and
subscriptions resume."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from promethean.client import ClientConfig, Message, Published, SubscribeOptions, WebSocketBusClient
from promethean.client.ws import ClientState
from promethean.errors import ConnectionLostError

FAST_RECONNECT = ClientConfig(reconnect_base_s=0.05, reconnect_max_s=0.5)
IN_FLIGHT = 2_000
FIRST_WAVE = 500


async def test_connection_refused_at_start_raises_connection_lost(unused_url: str) -> None:
    bus = WebSocketBusClient(unused_url)
    with pytest.raises(ConnectionLostError, match="cannot reach the broker"):
        await bus.connect()
    assert bus.closed
    with pytest.raises(ConnectionLostError):
        await bus.publish("some.topic", {})


async def test_publish_before_connect_raises_connection_lost(unused_url: str) -> None:
    bus = WebSocketBusClient(unused_url)
    with pytest.raises(ConnectionLostError, match="not connected"):
        await bus.publish("some.topic", {})


async def test_sigkill_with_publishes_in_flight_loses_and_duplicates_nothing(
    start_broker: Any, names: Any
) -> None:
    broker = start_broker()
    topic, group = names.topic(), names.group()
    delivered: dict[tuple[int, int], str] = {}
    all_delivered = asyncio.Event()

    async def handler(message: Message) -> None:
        delivered[(message.partition, message.offset)] = message.id
        if len(delivered) == IN_FLIGHT:
            all_delivered.set()

    async with (
        WebSocketBusClient(broker.url, FAST_RECONNECT) as publisher,
        WebSocketBusClient(broker.url, FAST_RECONNECT) as consumer,
    ):
        options = SubscribeOptions(start="earliest", max_inflight=64)
        await consumer.subscribe(topic, group, handler, options=options, concurrency=8)

        def publish(n: int) -> asyncio.Task[Published]:
            return asyncio.create_task(publisher.publish(topic, {"n": n, "pad": "x" * 100}))

        # A first wave until one publish is acknowledged; then the broker is
        # frozen, so the second wave is surely in flight when it is killed.
        first_acknowledged = asyncio.Event()
        calls = [publish(i) for i in range(FIRST_WAVE)]
        for call in calls:
            call.add_done_callback(lambda _: first_acknowledged.set())
        await asyncio.wait_for(first_acknowledged.wait(), 30)
        os.kill(broker.pid, signal.SIGSTOP)
        calls += [publish(i) for i in range(FIRST_WAVE, IN_FLIGHT)]
        await asyncio.sleep(0)
        broker.kill()
        acknowledged_before_kill = sum(call.done() for call in calls)
        assert acknowledged_before_kill < IN_FLIGHT, "nothing was in flight at the kill"
        delivered_before_kill = len(delivered)

        await broker.start_async()
        async with asyncio.timeout(60):
            results: list[Published] = await asyncio.gather(*calls)

        ids = {r.id for r in results}
        positions = {(r.partition, r.offset) for r in results}
        assert len(ids) == IN_FLIGHT
        assert len(positions) == IN_FLIGHT
        assert await asyncio.to_thread(broker.stored_count, topic) == IN_FLIGHT

        # The subscription came back by itself and saw every event.
        await asyncio.wait_for(all_delivered.wait(), 60)
        assert len(delivered) > delivered_before_kill
        assert set(delivered) == positions
        assert set(delivered.values()) == ids
        assert publisher.state is ClientState.CONNECTED
        assert consumer.state is ClientState.CONNECTED


async def test_publishes_made_while_the_broker_is_down_go_out_on_reconnect(
    start_broker: Any, names: Any
) -> None:
    broker = start_broker()
    topic = names.topic()
    async with WebSocketBusClient(broker.url, FAST_RECONNECT) as bus:
        await bus.publish(topic, {"n": 0})
        broker.kill()
        pending = [asyncio.create_task(bus.publish(topic, {"n": i})) for i in range(1, 11)]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in pending)
        assert bus.state is ClientState.RECONNECTING
        await broker.start_async()
        async with asyncio.timeout(30):
            results = await asyncio.gather(*pending)
    assert len({(r.partition, r.offset) for r in results}) == 10
    assert await asyncio.to_thread(broker.stored_count, topic) == 11


async def test_iterating_subscription_resumes_after_a_restart(
    start_broker: Any, names: Any
) -> None:
    broker = start_broker()
    topic, group = names.topic(), names.group()
    async with WebSocketBusClient(broker.url, FAST_RECONNECT) as bus:
        sub = await bus.subscribe(topic, group, options=SubscribeOptions(start="earliest"))
        await bus.publish(topic, {"n": 1})
        async with asyncio.timeout(10):
            before = await anext(sub)
        await before.ack()
        await asyncio.sleep(0.1)  # let the ack and its commit reach the store
        broker.kill()
        await broker.start_async()
        await bus.publish(topic, {"n": 2})
        async with asyncio.timeout(30):
            after = await anext(sub)
            while after.payload["n"] == 1:  # the ack may have died with the broker
                after = await anext(sub)
        assert after.payload == {"n": 2}
        await after.ack()


async def test_a_delivery_from_a_lost_connection_cannot_be_settled(
    start_broker: Any, names: Any
) -> None:
    broker = start_broker()
    topic, group = names.topic(), names.group()
    async with WebSocketBusClient(broker.url, FAST_RECONNECT) as bus:
        sub = await bus.subscribe(topic, group, options=SubscribeOptions(start="earliest"))
        await bus.publish(topic, {"n": 1})
        async with asyncio.timeout(10):
            stale = await anext(sub)
        broker.kill()
        await broker.start_async()
        await stale.ack()  # ignored: that delivery died with the connection
        async with asyncio.timeout(30):
            again = await anext(sub)
        assert again.id == stale.id
        assert again.attempt >= 1
        await again.ack()


async def test_a_publish_without_acknowledgement_times_out(start_broker: Any, names: Any) -> None:
    broker = start_broker()
    config = ClientConfig(publish_timeout_s=0.5, reconnect_base_s=0.05, reconnect_max_s=0.2)
    async with WebSocketBusClient(broker.url, config) as bus:
        await bus.publish(names.topic(), {"n": 0})
        broker.kill()
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionLostError, match=r"not acknowledged within 0\.5s"):
            await bus.publish(names.topic(), {"n": 1}, id="lost-1")
        assert 0.4 <= asyncio.get_running_loop().time() - started < 3
        # The timed-out publish is not re-sent once the broker is back;
        # publishing the same id again is the caller's call, and safe.
        await broker.start_async()
        again = await bus.publish(names.topic(), {"n": 1}, id="lost-1")
        assert not again.duplicate
