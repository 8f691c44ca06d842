"""Subscription filters by key and by header."""

from __future__ import annotations

import pytest

from promethean.client import SubscribeOptions
from promethean.errors import PrometheanError
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique


async def test_key_filter_delivers_only_that_key(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("accounts")
    rec = recording_subscriber()
    await bus.subscribe(topic, unique("g"), rec, options=SubscribeOptions(filter_key="acct-2"))
    for n in range(9):
        await bus.publish(topic, n, key=f"acct-{n % 3}")
    await bus_harness.received(rec, 3)
    await bus_harness.quiet()
    assert rec.payloads == [2, 5, 8]
    assert {m.key for m in rec.messages} == {"acct-2"}


async def test_header_filter_delivers_only_matching_events(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("events")
    rec = recording_subscriber()
    options = SubscribeOptions(filter_header=("region", "eu"))
    await bus.subscribe(topic, unique("g"), rec, options=options)
    await bus.publish(topic, 1, headers={"region": "us"})
    await bus.publish(topic, 2, headers={"region": "eu"})
    await bus.publish(topic, 3)
    await bus.publish(topic, 4, headers={"region": "eu", "tier": "gold"})
    await bus_harness.received(rec, 2)
    await bus_harness.quiet()
    assert sorted(rec.payloads) == [2, 4]


async def test_filtered_out_events_count_as_done_for_the_group(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic, group = unique("accounts"), unique("g")
    only_a = recording_subscriber()
    handle = await bus.subscribe(topic, group, only_a, options=SubscribeOptions(filter_key="a"))
    for key in ("b", "b", "a"):
        await bus.publish(topic, key, key=key)
    await bus_harness.received(only_a, 1)
    await bus_harness.quiet()
    await handle.stop()
    everything = recording_subscriber()
    await bus.subscribe(topic, group, everything)
    await bus.publish(topic, "new", key="b")
    await bus_harness.received(everything, 1)
    await bus_harness.quiet()
    assert everything.payloads == ["new"]


async def test_a_group_refuses_a_member_with_another_filter(bus_harness: Harness) -> None:
    first, second = await bus_harness.client(), await bus_harness.client()
    topic, group = unique("accounts"), unique("g")
    await first.subscribe(topic, group, options=SubscribeOptions(filter_key="a"))
    with pytest.raises(PrometheanError) as refused:
        await second.subscribe(topic, group, options=SubscribeOptions(filter_key="b"))
    assert refused.value.code == "bad_field"
