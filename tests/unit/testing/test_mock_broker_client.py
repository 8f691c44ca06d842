"""`InMemoryBroker` as a `BusClient`: inline delivery, handlers, iteration,
connections, counters and the event log."""

from __future__ import annotations

import asyncio

import pytest

from promethean.client import BusClient, Message, SubscribeOptions, SubscriptionHandle
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.testing import (
    EventKind,
    InMemoryBroker,
    MockClient,
    MockConfig,
    recording_subscriber,
)


async def test_broker_and_its_clients_implement_the_client_protocol(bus: InMemoryBroker) -> None:
    assert isinstance(bus, BusClient)
    assert isinstance(bus.new_client(), BusClient)
    handle = await bus.subscribe("orders", "billing")
    assert isinstance(handle, SubscriptionHandle)
    assert (handle.topic, handle.group) == ("orders", "billing")


async def test_handler_has_run_when_publish_returns(bus: InMemoryBroker) -> None:
    seen: list[int] = []

    async def handler(message: Message) -> None:
        seen.append(message.payload["n"])

    await bus.subscribe("orders", "billing", handler)
    await bus.publish("orders", {"n": 1})
    assert seen == [1]
    await bus.publish("orders", {"n": 2})
    assert seen == [1, 2]


async def test_publish_from_a_handler_is_delivered_before_the_outer_publish_returns(
    bus: InMemoryBroker,
) -> None:
    totals = recording_subscriber()

    async def project(message: Message) -> None:
        await bus.publish("orders.total", {"order": message.payload["id"], "total": 3})

    await bus.subscribe("orders", "projector", project)
    await bus.subscribe("orders.total", "reporter", totals)
    await bus.publish("orders", {"id": "o-1"})
    assert totals.payloads == [{"order": "o-1", "total": 3}]


async def test_concurrent_publishers_are_all_delivered(bus: InMemoryBroker) -> None:
    rec = recording_subscriber()
    await bus.subscribe("clicks", "counter", rec)
    await asyncio.gather(*(bus.publish("clicks", i, key=f"k{i % 3}") for i in range(30)))
    assert sorted(rec.payloads) == list(range(30))


async def test_iterated_subscription_receives_and_acks(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("jobs", "workers", options=SubscribeOptions(start="earliest"))
    await bus.publish("jobs", "a", key="k")
    await bus.publish("jobs", "b", key="k")
    first = await anext(sub)
    second = await anext(sub)
    assert [first.payload, second.payload] == ["a", "b"]
    await first.ack()
    await second.ack()
    assert bus.counters.acked == 2


async def test_second_subscription_to_the_same_group_on_one_client_is_refused(
    bus: InMemoryBroker,
) -> None:
    await bus.subscribe("orders", "billing")
    with pytest.raises(ValueError, match="already subscribed"):
        await bus.subscribe("orders", "billing")


async def test_requests_are_checked_like_the_broker_checks_them(bus: InMemoryBroker) -> None:
    with pytest.raises(PrometheanError) as bad_topic:
        await bus.publish("no spaces allowed", 1)
    assert bad_topic.value.code == "bad_name"
    with pytest.raises(PrometheanError) as bad_group:
        await bus.subscribe("orders", "..")
    assert bad_group.value.code == "bad_name"
    with pytest.raises(PrometheanError) as bad_range:
        await bus.subscribe("orders", "g", options=SubscribeOptions(ack_timeout_ms=5))
    assert bad_range.value.code == "bad_field"
    with pytest.raises(TypeError):
        await bus.publish("orders", object())


async def test_closed_broker_refuses_calls_with_connection_lost() -> None:
    broker = InMemoryBroker()
    await broker.publish("orders", 1)
    await broker.close()
    await broker.close()
    with pytest.raises(ConnectionLostError):
        await broker.publish("orders", 2)


async def test_closing_a_client_gives_its_work_to_the_rest_of_the_group(
    bus: InMemoryBroker,
) -> None:
    leaver = bus.new_client("leaver")
    held = await leaver.subscribe("jobs", "workers", manual_ack=True, handler=_ignore)
    await bus.publish("jobs", "work")
    assert held.buffered == 0
    stayer = recording_subscriber()
    await bus.subscribe("jobs", "workers", stayer)
    await leaver.close()
    assert [(m.payload, m.attempt) for m in stayer.messages] == [("work", 2)]


async def _ignore(message: Message) -> None:
    return None


async def test_counters_and_event_log_describe_what_happened(bus: InMemoryBroker) -> None:
    rec = recording_subscriber(fail_when=lambda m: m.attempt == 1)
    await bus.subscribe("orders", "billing", rec)
    await bus.publish("orders", {"n": 1}, id="order-1")
    await bus.publish("orders", {"n": 1}, id="order-1")
    counters = bus.counters.as_dict()
    assert counters == {
        "published": 1,
        "duplicates": 1,
        "delivered": 2,
        "dropped": 0,
        "redelivered": 1,
        "dead_lettered": 0,
        "acked": 1,
        "nacked": 1,
    }
    kinds = [e.kind for e in bus.events]
    assert kinds == [
        EventKind.SUBSCRIBED,
        EventKind.PUBLISHED,
        EventKind.DELIVERED,
        EventKind.NACKED,
        EventKind.REDELIVERY,
        EventKind.DELIVERED,
        EventKind.ACKED,
        EventKind.DUPLICATE,
    ]
    assert [e.attempt for e in bus.events_of("delivered")] == [1, 2]


async def test_each_bus_fixture_starts_empty(bus: InMemoryBroker) -> None:
    await bus.publish("shared-name", 1)
    assert bus.counters.published == 1
    assert (await bus.next_message("shared-name")).offset == 0


async def test_each_bus_fixture_starts_empty_again(bus: InMemoryBroker) -> None:
    await bus.publish("shared-name", 1)
    assert bus.counters.published == 1
    assert (await bus.next_message("shared-name")).offset == 0


async def test_new_client_is_a_separate_member_of_a_group(bus: InMemoryBroker) -> None:
    other = bus.new_client()
    assert isinstance(other, MockClient)
    mine, theirs = recording_subscriber(), recording_subscriber()
    await bus.subscribe("jobs", "workers", mine)
    await other.subscribe("jobs", "workers", theirs)
    for i in range(10):
        await bus.publish("jobs", i, key=f"k{i}")
    assert mine.messages
    assert theirs.messages
    assert sorted(mine.payloads + theirs.payloads) == list(range(10))


async def test_config_sets_partitions_like_the_broker_setting() -> None:
    async with InMemoryBroker(MockConfig(partitions=3)) as broker:
        partitions = {(await broker.publish("t", i, key=f"k{i}")).partition for i in range(60)}
    assert partitions == {0, 1, 2}


async def test_clients_may_share_a_name(bus: InMemoryBroker) -> None:
    one, two = bus.new_client("worker"), bus.new_client("worker")
    first, second = recording_subscriber(), recording_subscriber()
    await one.subscribe("jobs", "workers", first)
    await two.subscribe("jobs", "workers", second)
    await asyncio.gather(*(bus.publish("jobs", n, key=f"k{n}") for n in range(6)))
    assert sorted(first.payloads + second.payloads) == list(range(6))
    assert first.messages
    assert second.messages
