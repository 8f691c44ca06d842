"""Per-subscriber bounded buffers and their overflow policies."""

from __future__ import annotations

import pytest

from promethean.client import SubscribeOptions
from promethean.testing import (
    BufferOverflowError,
    DeliveryMode,
    InMemoryBroker,
    MockConfig,
    Overflow,
    recording_subscriber,
)

ACK_MS = 1_000
WIDE = SubscribeOptions(max_inflight=10, ack_timeout_ms=ACK_MS)


async def _publish(bus: InMemoryBroker, count: int) -> None:
    for i in range(count):
        await bus.publish("t", i, key="k")


async def test_block_applies_backpressure_instead_of_losing_anything(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("t", "g", options=WIDE, buffer_size=2, overflow=Overflow.BLOCK)
    await _publish(bus, 5)
    assert sub.buffered == 2
    assert bus.counters.dropped == 0
    first = await anext(sub)
    assert sub.buffered == 2
    await first.ack()
    payloads = [first.payload]
    for _ in range(4):
        message = await anext(sub)
        payloads.append(message.payload)
        await message.ack()
    assert payloads == [0, 1, 2, 3, 4]


async def test_drop_newest_keeps_the_first_arrivals(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("t", "g", options=WIDE, buffer_size=2, overflow="drop-newest")
    await _publish(bus, 5)
    assert bus.counters.dropped == 3
    kept = [await anext(sub), await anext(sub)]
    assert [m.payload for m in kept] == [0, 1]
    for message in kept:
        await message.ack()
    await bus.advance(ACK_MS)
    redelivered = await anext(sub)
    assert (redelivered.payload, redelivered.attempt) == (2, 2)


async def test_drop_oldest_keeps_the_latest_arrivals(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("t", "g", options=WIDE, buffer_size=2, overflow="drop-oldest")
    await _publish(bus, 5)
    assert bus.counters.dropped == 3
    assert [(await anext(sub)).payload, (await anext(sub)).payload] == [3, 4]
    assert [e.detail for e in bus.events_of("dropped")] == ["buffer full: drop-oldest"] * 3


async def test_raise_fails_the_subscriber_and_the_next_tick() -> None:
    async with InMemoryBroker(MockConfig(mode=DeliveryMode.SCHEDULED)) as bus:
        sub = await bus.subscribe("t", "g", options=WIDE, buffer_size=2, overflow="raise")
        await _publish(bus, 6)
        rest = recording_subscriber()
        await bus.new_client().subscribe("t", "g", rest)
        with pytest.raises(BufferOverflowError) as overflow:
            await bus.tick()
        assert overflow.value.code == "slow_consumer"
        with pytest.raises(BufferOverflowError):
            await anext(sub)
        await bus.drain()
        assert [(m.payload, m.attempt) for m in rest.messages] == [(i, 2) for i in range(6)]
        bus.check()


async def test_an_overflow_nobody_saw_is_raised_by_check(bus: InMemoryBroker) -> None:
    await bus.subscribe("t", "g", options=WIDE, buffer_size=1, overflow=Overflow.RAISE)
    await _publish(bus, 2)
    assert len(bus.errors) == 1
    with pytest.raises(BufferOverflowError):
        bus.check()
    bus.check()


async def test_buffer_defaults_come_from_the_config() -> None:
    config = MockConfig(buffer_size=3, overflow=Overflow.DROP_NEWEST)
    async with InMemoryBroker(config) as bus:
        sub = await bus.subscribe("t", "g", options=WIDE)
        await _publish(bus, 5)
        assert (sub.buffer_size, sub.overflow, sub.buffered) == (3, Overflow.DROP_NEWEST, 3)


async def test_buffer_size_must_be_positive(bus: InMemoryBroker) -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        await bus.subscribe("t", "g", buffer_size=0)
