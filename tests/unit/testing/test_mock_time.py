"""The fake clock: scheduled mode, tick, advance (stepping through timers)
and drain (moving only to arrivals)."""

from __future__ import annotations

import asyncio

import pytest

from promethean.client import Message, SubscribeOptions
from promethean.testing import (
    DeliveryMode,
    InMemoryBroker,
    Latency,
    MockBrokerError,
    MockConfig,
    recording_subscriber,
)


async def _never_ack(message: Message) -> None:
    return None


async def test_scheduled_mode_delivers_only_on_tick() -> None:
    async with InMemoryBroker(MockConfig(mode=DeliveryMode.SCHEDULED)) as bus:
        rec = recording_subscriber()
        await bus.subscribe("orders", "billing", rec)
        await bus.publish("orders", 1)
        assert rec.messages == []
        assert bus.in_transit == 1
        await bus.tick()
        assert rec.payloads == [1]
        assert bus.in_transit == 0


async def test_advance_stops_at_every_ack_deadline_on_the_way() -> None:
    async with InMemoryBroker(MockConfig(max_attempts=10)) as bus:
        rec = recording_subscriber()
        await bus.subscribe(
            "jobs", "w", rec, manual_ack=True, options=SubscribeOptions(ack_timeout_ms=100)
        )
        await bus.publish("jobs", "x")
        start = bus.clock.now_ms()
        await bus.advance(350)
        assert rec.attempts == [1, 2, 3, 4]
        assert [m.ts for m in rec.messages] == [start] * 4
        assert [e.at_ms - start for e in bus.events_of("delivered")] == [0, 100, 200, 300]
        assert bus.clock.now_ms() == start + 350


async def test_moving_the_clock_by_hand_then_ticking_jumps_over_deadlines() -> None:
    async with InMemoryBroker(MockConfig(max_attempts=10)) as bus:
        rec = recording_subscriber()
        await bus.subscribe(
            "jobs", "w", rec, manual_ack=True, options=SubscribeOptions(ack_timeout_ms=100)
        )
        await bus.publish("jobs", "x")
        bus.clock.advance(350)
        await bus.tick()
        assert rec.attempts == [1, 2]


async def test_inline_mode_applies_due_deadlines_at_the_next_call(bus: InMemoryBroker) -> None:
    rec = recording_subscriber()
    await bus.subscribe(
        "jobs", "w", rec, manual_ack=True, options=SubscribeOptions(ack_timeout_ms=100)
    )
    await bus.publish("jobs", "x")
    bus.clock.advance(100)
    assert rec.attempts == [1]
    await bus.publish("jobs.other", "y")
    assert rec.attempts == [1, 2]


async def test_drain_moves_the_clock_to_arrivals_but_not_to_ack_deadlines() -> None:
    async with InMemoryBroker(MockConfig(latency=Latency.fixed(40))) as bus:
        rec = recording_subscriber()
        await bus.subscribe("jobs", "w", rec, manual_ack=True)
        start = bus.clock.now_ms()
        await bus.publish("jobs", "x")
        assert rec.messages == []
        await bus.drain()
        assert rec.attempts == [1]
        assert bus.clock.now_ms() == start + 40
        await bus.drain()
        assert rec.attempts == [1]
        assert bus.clock.now_ms() == start + 40


async def test_drain_lets_an_iterating_consumer_task_keep_up() -> None:
    async with InMemoryBroker(MockConfig(mode=DeliveryMode.SCHEDULED)) as bus:
        sub = await bus.subscribe("jobs", "w", options=SubscribeOptions(max_inflight=1))
        seen: list[int] = []

        async def consume() -> None:
            async for message in sub:
                seen.append(message.payload)
                await message.ack()

        consumer = asyncio.create_task(consume())
        for i in range(5):
            await bus.publish("jobs", i, key="same")
        await bus.drain()
        assert seen == [0, 1, 2, 3, 4]
        await sub.stop()
        await consumer


async def test_clock_calls_from_inside_a_handler_are_refused(bus: InMemoryBroker) -> None:
    errors: list[BaseException] = []

    async def handler(message: Message) -> None:
        for call in (bus.tick(), bus.drain(), bus.advance(1)):
            try:
                await call
            except MockBrokerError as exc:
                errors.append(exc)

    await bus.subscribe("jobs", "w", handler)
    await bus.publish("jobs", 1)
    assert len(errors) == 3
    assert "inside a handler" in str(errors[0])


async def test_a_handler_that_publishes_forever_is_reported() -> None:
    async with InMemoryBroker(MockConfig(max_rounds=50)) as bus:

        async def echo(message: Message) -> None:
            await bus.publish("loop", message.payload + 1)

        await bus.subscribe("loop", "echo", echo)
        with pytest.raises(MockBrokerError, match="did not settle"):
            await bus.publish("loop", 0)


async def test_negative_advance_is_refused(bus: InMemoryBroker) -> None:
    with pytest.raises(ValueError, match="backwards"):
        await bus.advance(-1)


async def test_message_timestamps_and_deadlines_come_from_the_fake_clock(
    bus: InMemoryBroker,
) -> None:
    rec = recording_subscriber()
    await bus.subscribe("jobs", "w", rec, options=SubscribeOptions(ack_timeout_ms=2_000))
    await bus.advance(1_234)
    await bus.publish("jobs", 1)
    [message] = rec.messages
    assert message.ts == bus.config.start_ms + 1_234
    assert message.ack_deadline_ms == message.ts + 2_000
