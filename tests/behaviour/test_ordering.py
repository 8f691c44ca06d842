"""Ordering within a key, and where a new group starts reading."""

from __future__ import annotations

from promethean.client import SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique

EARLIEST = SubscribeOptions(start="earliest")


async def test_events_of_one_key_arrive_in_publish_order(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("ledger")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec)
    for n in range(30):
        await bus.publish(topic, n, key="account-1")
    await bus_harness.received(rec, 30)
    assert rec.payloads == list(range(30))


async def test_each_key_keeps_its_order_when_keys_interleave(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("ledger")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec)
    for n in range(10):
        for key in ("a", "b", "c", "d"):
            await bus.publish(topic, {"key": key, "n": n}, key=key)
    await bus_harness.received(rec, 40)
    for key in ("a", "b", "c", "d"):
        assert [p["n"] for p in rec.payloads if p["key"] == key] == list(range(10))


async def test_a_retried_event_comes_before_later_ones_with_one_in_flight(
    bus_harness: Harness,
) -> None:
    bus = await bus_harness.client()
    topic = unique("steps")
    rec = recording_subscriber(fail_when=lambda m: m.payload == 0 and m.attempt == 1)
    options = SubscribeOptions(max_inflight=1)
    await bus.subscribe(topic, unique("g"), rec, options=options)
    for n in range(3):
        await bus.publish(topic, n, key="same")
    await bus_harness.received(rec, 4)
    assert [(m.payload, m.attempt) for m in rec.messages] == [(0, 1), (0, 2), (1, 1), (2, 1)]


async def test_earliest_replays_history_and_latest_skips_it(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("history")
    for n in range(3):
        await bus.publish(topic, n, key="k")
    replay, live = recording_subscriber(), recording_subscriber()
    await bus.subscribe(topic, unique("replay"), replay, options=EARLIEST)
    await bus.subscribe(topic, unique("live"), live)
    await bus.publish(topic, 3, key="k")
    await bus_harness.received(replay, 4)
    await bus_harness.received(live, 1)
    await bus_harness.quiet()
    assert replay.payloads == [0, 1, 2, 3]
    assert live.payloads == [3]


async def test_a_new_group_can_start_at_an_offset(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("log")
    for n in range(5):
        await bus.publish(topic, n, key="one-partition")
    rec = recording_subscriber()
    options = SubscribeOptions(start="offset", start_value=3)
    await bus.subscribe(topic, unique("g"), rec, options=options)
    await bus_harness.received(rec, 2)
    await bus_harness.quiet()
    assert rec.payloads == [3, 4]


async def test_a_new_group_can_start_at_a_timestamp(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("log")
    stamps = recording_subscriber()
    await bus.subscribe(topic, unique("stamps"), stamps)
    await bus.publish(topic, "old", key="k")
    await bus_harness.received(stamps, 1)
    await bus_harness.advance(20)
    await bus.publish(topic, "new", key="k")
    old, new = await bus_harness.received(stamps, 2)
    assert new.ts > old.ts
    rec = recording_subscriber()
    options = SubscribeOptions(start="timestamp", start_value=new.ts)
    await bus.subscribe(topic, unique("g"), rec, options=options)
    await bus_harness.received(rec, 1)
    await bus_harness.quiet()
    assert rec.payloads == ["new"]
