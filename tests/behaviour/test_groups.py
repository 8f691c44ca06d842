"""Consumer groups: fan-out between groups, sharing within one, and
committed progress that survives the group leaving and coming back."""

from __future__ import annotations

import asyncio

from promethean.client import Handler, Message, SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique

EARLIEST = SubscribeOptions(start="earliest")


async def test_every_group_receives_every_event(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("orders")
    billing, shipping = recording_subscriber(), recording_subscriber()
    await bus.subscribe(topic, unique("billing"), billing)
    await bus.subscribe(topic, unique("shipping"), shipping)
    for n in range(10):
        await bus.publish(topic, n, key=f"k{n}")
    await bus_harness.received(billing, 10)
    await bus_harness.received(shipping, 10)
    assert sorted(billing.payloads) == sorted(shipping.payloads) == list(range(10))


async def test_members_of_one_group_share_the_events_exactly_once(bus_harness: Harness) -> None:
    first, second = await bus_harness.client(), await bus_harness.client()
    topic, group = unique("jobs"), unique("workers")
    everything = recording_subscriber()
    by_member: dict[str, list[int]] = {"first": [], "second": []}

    def member(name: str) -> Handler:
        async def handle(message: Message) -> None:
            by_member[name].append(message.payload)
            await everything(message)

        return handle

    await first.subscribe(topic, group, member("first"))
    await second.subscribe(topic, group, member("second"))
    await asyncio.gather(*(first.publish(topic, n, key=f"k{n}") for n in range(40)))
    await bus_harness.received(everything, 40)
    await bus_harness.quiet()
    assert sorted(everything.payloads) == list(range(40))
    assert by_member["first"]
    assert by_member["second"]


async def test_a_group_resumes_after_what_it_acked(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic, group = unique("orders"), unique("billing")
    before = recording_subscriber()
    handle = await bus.subscribe(topic, group, before, options=EARLIEST)
    for n in range(3):
        await bus.publish(topic, n, key=f"k{n}")
    await bus_harness.received(before, 3)
    await bus_harness.quiet()
    await handle.stop()
    for n in range(3, 5):
        await bus.publish(topic, n, key=f"k{n}")
    after = recording_subscriber()
    await bus.subscribe(topic, group, after, options=EARLIEST)
    await bus_harness.received(after, 2)
    await bus_harness.quiet()
    assert sorted(after.payloads) == [3, 4]


async def test_work_held_by_a_leaving_member_goes_to_the_others(bus_harness: Harness) -> None:
    first, second = await bus_harness.client(), await bus_harness.client()
    topic, group = unique("jobs"), unique("workers")
    held = recording_subscriber()
    leaving = await second.subscribe(topic, group, held, manual_ack=True)
    await first.publish(topic, "job")
    await bus_harness.received(held, 1)
    staying = recording_subscriber()
    await first.subscribe(topic, group, staying)
    await leaving.stop()
    [message] = await bus_harness.received(staying, 1)
    assert (message.payload, message.attempt) == ("job", 2)


async def test_closing_a_client_gives_its_work_back_to_the_group(bus_harness: Harness) -> None:
    first, second = await bus_harness.client(), await bus_harness.client()
    topic, group = unique("jobs"), unique("workers")
    sub = await second.subscribe(topic, group)
    await first.publish(topic, "job")
    got: Message = await bus_harness.next(sub)
    assert got.payload == "job"
    staying = recording_subscriber()
    await first.subscribe(topic, group, staying)
    await second.close()
    [message] = await bus_harness.received(staying, 1)
    assert (message.id, message.attempt) == (got.id, 2)
