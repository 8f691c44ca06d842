"""Ack deadlines, nacks and modacks: what comes back, when, with which attempt."""

from __future__ import annotations

import pytest

from promethean.client import SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique

ACK_MS = 500
SHORT = SubscribeOptions(ack_timeout_ms=ACK_MS)


async def test_unacked_message_is_redelivered_after_its_deadline(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    sub = await bus.subscribe(topic, unique("g"), options=SHORT)
    await bus.publish(topic, "job")
    first = await bus_harness.next(sub)
    assert first.attempt == 1
    await bus_harness.advance(ACK_MS + 300)
    again = await bus_harness.next(sub)
    assert (again.id, again.offset, again.attempt) == (first.id, first.offset, 2)
    await again.ack()


async def test_acked_message_is_not_redelivered(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, options=SHORT)
    await bus.publish(topic, "job")
    await bus_harness.received(rec, 1)
    await bus_harness.advance(ACK_MS * 2)
    await bus_harness.quiet()
    assert rec.attempts == [1]


async def test_handler_error_redelivers_with_the_next_attempt(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber(fail_when=lambda m: m.attempt < 3)
    await bus.subscribe(topic, unique("g"), rec)
    await bus.publish(topic, "job")
    await bus_harness.received(rec, 3)
    await bus_harness.quiet()
    assert rec.attempts == [1, 2, 3]


async def test_explicit_nack_redelivers_at_once(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    sub = await bus.subscribe(topic, unique("g"))
    await bus.publish(topic, "job")
    first = await bus_harness.next(sub)
    await first.nack("not now")
    again = await bus_harness.next(sub)
    assert (again.id, again.attempt) == (first.id, 2)
    await again.ack()


async def test_modack_extends_the_deadline(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, manual_ack=True, options=SHORT)
    await bus.publish(topic, "long job")
    [message] = await bus_harness.received(rec, 1)
    await message.modack(ACK_MS * 3)
    await bus_harness.advance(ACK_MS + 300)
    await bus_harness.quiet()
    assert rec.attempts == [1]
    await bus_harness.advance(ACK_MS * 2 - 100)
    await bus_harness.received(rec, 2)
    assert rec.attempts == [1, 2]


async def test_modack_zero_gives_the_message_back_now(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, manual_ack=True)
    await bus.publish(topic, "job")
    [message] = await bus_harness.received(rec, 1)
    await message.modack(0)
    await bus_harness.received(rec, 2)
    assert rec.attempts == [1, 2]


@pytest.mark.bus_settings(ack_timeout_ms=400)
async def test_the_brokers_default_deadline_applies(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, manual_ack=True)
    await bus.publish(topic, "job")
    [message] = await bus_harness.received(rec, 1)
    assert message.ack_deadline_ms is not None
    assert 400 <= message.ack_deadline_ms - message.ts < 1_400
    await bus_harness.advance(650)
    await bus_harness.received(rec, 2)
    assert rec.attempts == [1, 2]
