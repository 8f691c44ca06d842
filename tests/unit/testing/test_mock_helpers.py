"""Assertion helpers: expect_delivered, next_message, recording_subscriber."""

from __future__ import annotations

import pytest

from promethean.client import Message
from promethean.testing import InMemoryBroker, Latency, MockConfig, recording_subscriber


async def test_expect_delivered_counts_messages_that_reached_subscribers(
    bus: InMemoryBroker,
) -> None:
    await bus.subscribe("orders", "billing", recording_subscriber())
    await bus.subscribe("orders", "shipping", recording_subscriber())
    await bus.publish("orders", {"n": 1})
    await bus.publish("orders", {"n": 2})
    assert len(bus.expect_delivered("orders", times=4)) == 4
    billed = bus.expect_delivered(
        "orders", group="billing", predicate=lambda m: m.payload["n"] == 2
    )
    assert [m.payload for m in billed] == [{"n": 2}]
    assert len(bus.expect_delivered("orders")) == 4


async def test_expect_delivered_explains_a_mismatch(bus: InMemoryBroker) -> None:
    await bus.subscribe("orders", "billing", recording_subscriber())
    await bus.subscribe("audit", "archive", recording_subscriber())
    await bus.publish("orders", {"n": 1})
    await bus.publish("audit", "x")
    with pytest.raises(AssertionError) as wrong_count:
        bus.expect_delivered("orders", times=2)
    assert str(wrong_count.value) == (
        "expected 2 deliveries on orders, got 1; other topics: {'audit': 1}"
    )
    with pytest.raises(AssertionError, match=r"matching the predicate, got 0 \(1 on the topic"):
        bus.expect_delivered("orders", predicate=lambda m: m.payload["n"] == 9)
    bus.expect_delivered("nothing-here", times=0)


async def test_expect_delivered_hints_at_deliveries_still_in_transit() -> None:
    async with InMemoryBroker(MockConfig(latency=Latency.fixed(10))) as bus:
        await bus.subscribe("orders", "billing", recording_subscriber())
        await bus.publish("orders", 1)
        with pytest.raises(AssertionError, match=r"1 deliveries are still in transit"):
            bus.expect_delivered("orders", times=1)
        await bus.drain()
        bus.expect_delivered("orders", times=1)


async def test_next_message_reads_the_topic_from_its_start_in_order(bus: InMemoryBroker) -> None:
    await bus.publish("orders", "before", key="k")
    first = await bus.next_message("orders")
    await bus.publish("orders", "after", key="k")
    second = await bus.next_message("orders")
    assert [first.payload, second.payload] == ["before", "after"]
    with pytest.raises(AssertionError, match="no message on orders yet"):
        await bus.next_message("orders")


async def test_next_message_does_not_disturb_counters_or_groups(bus: InMemoryBroker) -> None:
    rec = recording_subscriber()
    await bus.subscribe("orders", "billing", rec)
    await bus.publish("orders", 1)
    before = bus.counters.as_dict()
    events = len(bus.events)
    await bus.next_message("orders")
    assert bus.counters.as_dict() == before
    assert len(bus.events) == events
    assert rec.payloads == [1]


async def test_recording_subscriber_keeps_messages_and_fails_on_request(
    bus: InMemoryBroker,
) -> None:
    rec = bus.recording_subscriber(fail_when=lambda m: m.attempt < 2)
    await bus.subscribe("jobs", "w", rec)
    await bus.publish("jobs", {"job": 1})
    assert rec.attempts == [1, 2]
    assert rec.payloads == [{"job": 1}, {"job": 1}]
    assert len(rec) == 2
    assert [m.topic for m in rec.of("jobs")] == ["jobs", "jobs"]
    assert await rec.wait_for(2) == rec.messages


async def test_recording_subscriber_wait_for_reports_what_it_got() -> None:
    rec = recording_subscriber()
    with pytest.raises(AssertionError, match=r"expected 1 messages within 0\.01s, got 0"):
        await rec.wait_for(1, timeout_s=0.01)


async def test_failing_handler_message_reaches_the_dlq_reason(bus: InMemoryBroker) -> None:
    async def broken(message: Message) -> None:
        raise RuntimeError("database down")

    await bus.subscribe("jobs", "w", broken)
    await bus.publish("jobs", 1)
    dead = await bus.next_message("jobs.DLQ")
    assert dead.headers is not None
    assert dead.headers["x-dlq-reason"] == "RuntimeError: database down"


async def test_next_message_returns_each_message_once_after_long_pauses(
    bus: InMemoryBroker,
) -> None:
    for n in range(3):
        await bus.publish("orders", n, key="k")
    assert (await bus.next_message("orders")).payload == 0
    await bus.advance(2 * 3_600_000)
    assert [(await bus.next_message("orders")).payload for _ in range(2)] == [1, 2]
    with pytest.raises(AssertionError, match="no message"):
        await bus.next_message("orders")
