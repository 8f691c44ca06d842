"""The SDK against a real broker: publish, subscribe (handler and iterator),
ack / nack / modack, unsubscribe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from promethean.client import (
    BusClient,
    ClientConfig,
    Message,
    SubscribeOptions,
    SubscriptionHandle,
    WebSocketBusClient,
    new_session,
)
from promethean.errors import FrameError, PrometheanError

EARLIEST = SubscribeOptions(start="earliest")


@pytest.fixture
async def bus(broker: Any) -> AsyncIterator[WebSocketBusClient]:
    async with WebSocketBusClient(broker.url) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Poll the broker's admin API until ``check`` holds (it has no push)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.05)


async def lag(broker: Any, topic: str, group: str) -> int:
    body = await broker.admin_async(f"/lag?topic={topic}&group={group}")
    return int(body["lag"])


async def take(queue: asyncio.Queue[Message], count: int, timeout_s: float = 10.0) -> list[Message]:
    async with asyncio.timeout(timeout_s):
        return [await queue.get() for _ in range(count)]


def test_websocket_client_implements_the_port() -> None:
    client = WebSocketBusClient("ws://127.0.0.1:1/ws")
    assert isinstance(client, BusClient)


async def test_publish_returns_where_the_event_is_stored(
    bus: WebSocketBusClient, names: Any
) -> None:
    topic = names.topic()
    first = await bus.publish(topic, {"n": 1}, id="order-1")
    assert first.topic == topic
    assert first.id == "order-1"
    assert first.offset == 0
    assert not first.duplicate

    again = await bus.publish(topic, {"n": 1}, id="order-1")
    assert again.duplicate
    assert (again.partition, again.offset) == (first.partition, first.offset)


async def test_one_key_goes_to_one_partition_in_order(bus: WebSocketBusClient, names: Any) -> None:
    topic = names.topic()
    results = [await bus.publish(topic, {"n": i}, key="customer-7") for i in range(5)]
    assert len({r.partition for r in results}) == 1
    assert [r.offset for r in results] == list(range(5))


async def test_concurrent_publishes_all_land_once(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic = names.topic()
    results = await asyncio.gather(*(bus.publish(topic, {"n": i}) for i in range(1_000)))
    assert len({(r.partition, r.offset) for r in results}) == 1_000
    assert len({r.id for r in results}) == 1_000
    assert await asyncio.to_thread(broker.stored_count, topic) == 1_000


async def test_handler_mode_acks_when_the_handler_returns(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    for i in range(20):
        await bus.publish(topic, {"n": i})
    received: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await received.put(message)

    sub = await bus.subscribe(topic, group, handler, options=EARLIEST, concurrency=4)
    messages = await take(received, 20)
    assert sorted(m.payload["n"] for m in messages) == list(range(20))
    assert all(m.attempt == 1 and m.settled for m in messages)
    await eventually(lambda: _lag_is(broker, topic, group, 0))
    await sub.stop()


async def _lag_is(broker: Any, topic: str, group: str, expected: int) -> bool:
    return await lag(broker, topic, group) == expected


async def test_iterator_mode_delivers_payload_key_and_headers(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    sent = await bus.publish(topic, {"a.b": 1, "$gt": [1, 2]}, key="k1", headers={"h": "v"})
    sub = await bus.subscribe(topic, group, options=EARLIEST)
    assert isinstance(sub, SubscriptionHandle)
    async with asyncio.timeout(10):
        message = await anext(sub)
    assert message.id == sent.id
    assert (message.partition, message.offset) == (sent.partition, sent.offset)
    assert message.payload == {"a.b": 1, "$gt": [1, 2]}
    assert message.key == "k1"
    assert message.headers == {"h": "v"}
    await message.ack()
    await eventually(lambda: _lag_is(broker, topic, group, 0))
    await sub.stop()
    assert [m async for m in sub] == []  # iteration ends after stop


async def test_iterator_cannot_be_used_on_a_handler_subscription(
    bus: WebSocketBusClient, names: Any
) -> None:
    async def handler(message: Message) -> None:
        pass

    sub = await bus.subscribe(names.topic(), names.group(), handler)
    with pytest.raises(TypeError):
        await anext(sub)
    await sub.stop()


async def test_nack_redelivers_with_attempt_2(bus: WebSocketBusClient, names: Any) -> None:
    topic, group = names.topic(), names.group()
    sent = await bus.publish(topic, {"job": "x"})
    sub = await bus.subscribe(topic, group, options=EARLIEST)
    async with asyncio.timeout(10):
        first = await anext(sub)
        await first.nack("not now")
        second = await anext(sub)
    assert first.id == second.id == sent.id
    assert (first.attempt, second.attempt) == (1, 2)
    await second.ack()
    await sub.stop()


async def test_handler_exception_nacks_and_the_retry_succeeds(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    await bus.publish(topic, {"job": "flaky"})
    attempts: asyncio.Queue[int] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await attempts.put(message.attempt)
        if message.attempt == 1:
            raise RuntimeError("transient failure")

    sub = await bus.subscribe(topic, group, handler, options=EARLIEST)
    async with asyncio.timeout(10):
        assert [await attempts.get(), await attempts.get()] == [1, 2]
    await eventually(lambda: _lag_is(broker, topic, group, 0))
    assert attempts.empty()
    await sub.stop()


async def test_manual_ack_mode_leaves_settling_to_the_handler(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    await bus.publish(topic, {"n": 1})
    seen: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await seen.put(message)  # returns without acking

    options = SubscribeOptions(start="earliest", ack_timeout_ms=400)
    sub = await bus.subscribe(topic, group, handler, options=options, manual_ack=True)
    (first,) = await take(seen, 1)
    assert not first.settled
    # Not acked on return: the ack deadline passes and it comes again.
    (second,) = await take(seen, 1)
    assert (first.id, first.attempt, second.attempt) == (second.id, 1, 2)
    await second.ack()
    await eventually(lambda: _lag_is(broker, topic, group, 0))
    with pytest.raises(TimeoutError):
        await take(seen, 1, timeout_s=1.0)
    await sub.stop()


async def test_modack_defers_redelivery(bus: WebSocketBusClient, names: Any) -> None:
    topic, group = names.topic(), names.group()
    await bus.publish(topic, {"n": 1})
    options = SubscribeOptions(start="earliest", ack_timeout_ms=300)
    sub = await bus.subscribe(topic, group, options=options)
    async with asyncio.timeout(10):
        first = await anext(sub)
    extended_at = time.monotonic()
    await first.modack(2_000)
    async with asyncio.timeout(10):
        second = await anext(sub)
    waited = time.monotonic() - extended_at
    # Without the MODACK the deadline was 300 ms after delivery.
    assert waited >= 1.8, f"redelivered {waited:.2f}s after MODACK 2000 ms"
    assert (second.id, second.attempt) == (first.id, 2)
    await second.ack()
    await sub.stop()


async def test_unsubscribe_stops_delivery_and_leaves_the_rest_to_the_group(
    broker: Any, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    received: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await received.put(message)

    async with WebSocketBusClient(broker.url) as first, WebSocketBusClient(broker.url) as second:
        sub = await first.subscribe(topic, group, handler, options=EARLIEST)
        await first.publish(topic, {"n": 0})
        (m0,) = await take(received, 1)
        assert m0.payload == {"n": 0}
        await sub.stop()
        await first.unsubscribe(topic, group)  # a second stop is a no-op

        for i in range(1, 4):
            await first.publish(topic, {"n": i})
        with pytest.raises(TimeoutError):
            await take(received, 1, timeout_s=0.7)

        later = await second.subscribe(topic, group)
        async with asyncio.timeout(10):
            rest = [await anext(later) for _ in range(3)]
        assert sorted(m.payload["n"] for m in rest) == [1, 2, 3]
        for message in rest:
            await message.ack()


async def test_competing_consumers_share_a_group(broker: Any, names: Any) -> None:
    topic, group = names.topic(), names.group()
    seen: dict[str, list[int]] = {"a": [], "b": []}
    done = asyncio.Event()

    def handler_for(name: str) -> Callable[[Message], Awaitable[None]]:
        async def handler(message: Message) -> None:
            seen[name].append(message.payload["n"])
            await asyncio.sleep(0.002)
            if len(seen["a"]) + len(seen["b"]) >= 200:
                done.set()

        return handler

    async with WebSocketBusClient(broker.url) as a, WebSocketBusClient(broker.url) as b:
        options = SubscribeOptions(start="earliest", max_inflight=8)
        await a.subscribe(topic, group, handler_for("a"), options=options)
        await b.subscribe(topic, group, handler_for("b"), options=options)
        await asyncio.gather(*(a.publish(topic, {"n": i}) for i in range(200)))
        await asyncio.wait_for(done.wait(), 20)
    assert sorted(seen["a"] + seen["b"]) == list(range(200))
    assert seen["a"]
    assert seen["b"]


async def test_bad_input_is_refused_before_it_is_sent(bus: WebSocketBusClient, names: Any) -> None:
    with pytest.raises(FrameError) as bad_topic:
        await bus.publish("not a topic!", {"n": 1})
    assert bad_topic.value.code == "bad_name"
    with pytest.raises(FrameError) as too_big:
        await bus.publish(names.topic(), "x" * (600 * 1024))
    assert too_big.value.code == "payload_too_large"
    with pytest.raises(FrameError):
        await bus.subscribe(names.topic(), "bad group!")
    # The connection is still good.
    assert (await bus.publish(names.topic(), {"ok": True})).offset == 0


async def test_large_publishes_are_split_under_the_frame_limit(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    topic = names.topic()
    payload = "y" * (300 * 1024)
    results = await asyncio.gather(*(bus.publish(topic, payload) for i in range(8)))
    assert len({(r.partition, r.offset) for r in results}) == 8


async def test_a_second_subscription_to_one_group_is_refused(
    bus: WebSocketBusClient, names: Any
) -> None:
    topic, group = names.topic(), names.group()
    sub = await bus.subscribe(topic, group)
    with pytest.raises(ValueError, match="already subscribed"):
        await bus.subscribe(topic, group)
    await sub.stop()


async def test_broker_refusal_of_a_subscription_raises(bus: WebSocketBusClient, names: Any) -> None:
    topic, group = names.topic(), names.group()
    other = names.group("other")
    async with WebSocketBusClient(bus.url) as peer:
        first = await peer.subscribe(topic, group, options=SubscribeOptions(filter_key="a"))
        with pytest.raises(PrometheanError) as refused:
            await bus.subscribe(topic, group, options=SubscribeOptions(filter_key="b"))
        assert refused.value.code == "bad_field"
        await first.stop()
    # The refused subscription is not kept: subscribing again works.
    sub = await bus.subscribe(topic, other)
    await sub.stop()


async def test_publishes_beyond_the_pending_limit_wait_for_a_slot(broker: Any, names: Any) -> None:
    topic = names.topic()
    config = ClientConfig(max_pending_publishes=4)
    async with WebSocketBusClient(broker.url, config) as bus:
        results = await asyncio.gather(*(bus.publish(topic, {"n": i}) for i in range(50)))
    assert len({(r.partition, r.offset) for r in results}) == 50


async def test_clients_sharing_a_session_stay_independent(broker: Any, names: Any) -> None:
    """A session handed in is shared, never closed by a client: closing one
    client leaves the others, and the session, working."""
    topic = names.topic()
    config = ClientConfig()
    session = new_session(config, connection_limit=0)
    try:
        clients = [WebSocketBusClient(broker.url, config, session=session) for _ in range(3)]
        for client in clients:
            await client.connect()
        received: asyncio.Queue[int] = asyncio.Queue()

        async def handle(message: Message) -> None:
            received.put_nowait(message.payload["n"])

        await clients[2].subscribe(topic, names.group(), handle)
        await clients[0].close()
        assert not session.closed
        await clients[1].publish(topic, {"n": 1})
        assert await asyncio.wait_for(received.get(), 5) == 1
        for client in clients[1:]:
            await client.close()
        assert not session.closed
    finally:
        await session.close()
    own = WebSocketBusClient(broker.url)
    await own.connect()
    await own.close()
    assert own._transport._session is not None
    assert own._transport._session.closed, "a client's own session closes with it"
