"""Subscription handles: iteration, stopping, unsubscribing."""

from __future__ import annotations

import pytest

from promethean.client import SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique


async def test_stopping_a_subscription_stops_delivery(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("news")
    rec = recording_subscriber()
    handle = await bus.subscribe(topic, unique("g"), rec)
    await bus.publish(topic, 1)
    await bus_harness.received(rec, 1)
    await handle.stop()
    await bus.publish(topic, 2)
    await bus.publish(topic, 3)
    await bus_harness.quiet()
    assert rec.payloads == [1]


async def test_unsubscribe_by_name_stops_delivery(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic, group = unique("news"), unique("g")
    rec = recording_subscriber()
    await bus.subscribe(topic, group, rec)
    await bus.unsubscribe(topic, group)
    await bus.unsubscribe(topic, group)
    await bus.publish(topic, 1)
    await bus_harness.quiet()
    assert rec.messages == []


async def test_a_second_subscription_to_a_group_on_one_client_is_refused(
    bus_harness: Harness,
) -> None:
    bus = await bus_harness.client()
    topic, group = unique("news"), unique("g")
    await bus.subscribe(topic, group)
    with pytest.raises(ValueError, match="already subscribed"):
        await bus.subscribe(topic, group)


async def test_iteration_yields_messages_and_ends_when_stopped(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("news")
    sub = await bus.subscribe(topic, unique("g"), options=SubscribeOptions(start="earliest"))
    for n in range(3):
        await bus.publish(topic, n, key="k")
    got = []
    for _ in range(3):
        message = await bus_harness.next(sub)
        got.append(message.payload)
        await message.ack()
    assert got == [0, 1, 2]
    await sub.stop()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


async def test_a_handler_subscription_cannot_be_iterated(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    handle = await bus.subscribe(unique("news"), unique("g"), recording_subscriber())
    with pytest.raises(TypeError, match="runs a handler"):
        await anext(handle)
