"""max_inflight bounds what a subscriber holds unacked."""

from __future__ import annotations

from promethean.client import SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique


async def test_max_inflight_bounds_unacked_deliveries(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    rec = recording_subscriber()
    options = SubscribeOptions(max_inflight=2)
    await bus.subscribe(topic, unique("g"), rec, manual_ack=True, options=options)
    for n in range(5):
        await bus.publish(topic, n, key="k")
    await bus_harness.received(rec, 2)
    await bus_harness.quiet()
    assert rec.payloads == [0, 1]
    await rec.messages[0].ack()
    await bus_harness.received(rec, 3)
    await bus_harness.quiet()
    assert rec.payloads == [0, 1, 2]


async def test_a_consumer_that_acks_one_at_a_time_gets_everything_in_order(
    bus_harness: Harness,
) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    sub = await bus.subscribe(topic, unique("g"), options=SubscribeOptions(max_inflight=1))
    for n in range(5):
        await bus.publish(topic, n, key="k")
    received = []
    for _ in range(5):
        message = await bus_harness.next(sub)
        received.append(message.payload)
        await message.ack()
    assert received == [0, 1, 2, 3, 4]


async def test_a_group_with_a_full_member_feeds_the_other(bus_harness: Harness) -> None:
    first, second = await bus_harness.client(), await bus_harness.client()
    topic, group = unique("jobs"), unique("workers")
    stuck = recording_subscriber()
    await first.subscribe(
        topic, group, stuck, manual_ack=True, options=SubscribeOptions(max_inflight=1)
    )
    await first.publish(topic, 0, key="k")
    await bus_harness.received(stuck, 1)
    free = recording_subscriber()
    await second.subscribe(topic, group, free)
    for n in range(1, 6):
        await first.publish(topic, n, key="k")
    await bus_harness.received(free, 5)
    await bus_harness.quiet()
    assert stuck.payloads == [0]
    assert free.payloads == [1, 2, 3, 4, 5]
