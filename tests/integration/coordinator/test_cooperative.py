"""Cooperative rebalancing, fencing, static membership and session expiry
against a real broker process, frame by frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.fixtures.broker import BrokerProcess
from tests.fixtures.ownership import assert_exclusive
from tests.fixtures.wire import WireClient
from tests.integration.broker.helpers import eventually
from tests.integration.coordinator.conftest import SESSION_TIMEOUT_MS, group_view

ALL = {0, 1, 2, 3}


async def _publish_to_every_partition(
    broker: BrokerProcess, topic: str, per_partition: int
) -> dict[int, list[int]]:
    """Publish keyed events until each of the 4 partitions has ``per_partition``."""
    offsets: dict[int, list[int]] = {p: [] for p in ALL}
    async with await WireClient.connect(broker.url) as producer:
        i = 0
        while any(len(v) < per_partition for v in offsets.values()):
            reply = await producer.publish(topic, {"n": i}, key=f"k{i}")
            offsets[reply["partition"]].append(reply["offset"])
            i += 1
    return offsets


async def test_revoked_partitions_reach_the_new_owner_only_after_the_old_one_confirms(
    broker: BrokerProcess, raw_member: Callable[..., Any], names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("workers")
    a = await raw_member(group, topic, "member-a")
    first = await a.join(max_inflight=1000)
    a.start_heartbeats()
    assert set(first["partitions"][topic]) == ALL
    published = await _publish_to_every_partition(broker, topic, 2)
    held = await a.wire.take(sum(map(len, published.values())))  # all at A, none acked

    b = await raw_member(group, topic, "member-b")
    joined = await b.join()
    b.start_heartbeats()
    assert joined["partitions"][topic] == []  # nothing is free yet

    revoke = (await eventually(lambda: a.frames("REVOKE"), bool))[-1]
    moving = set(revoke["partitions"][topic])
    assert len(moving) == 2
    assert revoke["generation"] == joined["generation"]
    kept = ALL - moving
    assert await eventually(a.owned, lambda owned: owned == kept)

    # Until A confirms, B gets neither the partitions nor their events.
    await asyncio.sleep(0.5)
    assert b.owned() == set()
    assert b.wire.messages.empty()

    # A is not paused: its kept partitions still deliver.
    async with await WireClient.connect(broker.url) as producer:
        for i in range(40):
            reply = await producer.publish(topic, {"late": i}, key=f"late{i}")
            if reply["partition"] in kept:
                break
    fresh = await a.wire.next_message(5)
    assert fresh["partition"] in kept

    for message in [*held, fresh]:
        if message["partition"] in moving:
            ack = await a.ack(message, generation=revoke["generation"])
            assert ack["type"] == "OK", ack
    assert (await a.revoked(revoke["generation"], sorted(moving)))["type"] == "OK"

    assert await eventually(b.owned, lambda owned: owned == moving)
    # Acked events are committed, so B starts after them: nothing to redeliver.
    await b.wire.no_message(0.5)
    view = group_view(broker, group)
    assert view["generation"] == joined["generation"]
    assert_exclusive(view["log"])
    assert view["log"][-1]["owners"] == {
        "member-a": {topic: sorted(kept)},
        "member-b": {topic: sorted(moving)},
    }


async def test_a_fenced_zombie_has_its_acks_refused(
    broker: BrokerProcess, raw_member: Callable[..., Any], names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("workers")
    zombie = await raw_member(group, topic, "zombie")
    await zombie.join()
    published = await _publish_to_every_partition(broker, topic, 1)
    held = await zombie.wire.take(sum(map(len, published.values())))
    generation = zombie.generation

    survivor = await raw_member(group, topic, "survivor")
    await survivor.join()
    survivor.start_heartbeats()
    # The zombie neither heartbeats nor confirms the REVOKE: after the
    # session timeout it is removed and everything moves to the survivor.
    assert await eventually(
        survivor.owned, lambda owned: owned == ALL, within=SESSION_TIMEOUT_MS / 1000 + 5
    )
    redelivered = await survivor.wire.take(len(held))
    assert {(m["partition"], m["offset"]) for m in redelivered} == {
        (m["partition"], m["offset"]) for m in held
    }

    refused = await zombie.ack(held[0], generation=generation)
    assert refused["type"] == "ERR", refused
    assert refused["code"] == "stale_generation", refused
    beat = await zombie.wire.request(
        {"type": "HEARTBEAT", "group": group, "member_id": "zombie", "generation": generation}
    )
    assert beat["code"] == "stale_generation"
    confirm = await zombie.revoked(generation + 1, [0])
    assert confirm["code"] == "stale_generation"

    # The survivor's acks count; the zombie's did not take its work away.
    for message in redelivered:
        assert (await survivor.ack(message, generation=survivor.generation))["type"] == "OK"
    view = group_view(broker, group)
    assert [m["member_id"] for m in view["members"]] == ["survivor"]
    assert_exclusive(view["log"])


async def test_an_old_generation_cannot_ack_a_partition_received_later(
    broker: BrokerProcess, raw_member: Callable[..., Any], names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("workers")
    a = await raw_member(group, topic, "a")
    b = await raw_member(group, topic, "b")
    await a.join()
    a.start_heartbeats()
    await b.join()
    b.start_heartbeats()
    revoke = (await eventually(lambda: a.frames("REVOKE"), bool))[-1]
    await a.revoked(revoke["generation"], revoke["partitions"][topic])
    gained = await eventually(b.owned, bool)
    await _publish_to_every_partition(broker, topic, 1)
    message = await b.wire.next_message(5)
    assert message["partition"] in gained
    stale = await b.ack(message, generation=revoke["generation"] - 1)
    assert stale["code"] == "stale_generation"
    assert (await b.ack(message, generation=revoke["generation"]))["type"] == "OK"


async def test_static_member_rejoining_within_the_timeout_keeps_its_partitions(
    broker: BrokerProcess, raw_member: Callable[..., Any], names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("workers")
    a = await raw_member(group, topic, "a-1")
    b = await raw_member(group, topic, "b-1")
    await a.join(instance_id="pod-a")
    a.start_heartbeats()
    await b.join(instance_id="pod-b")
    b.start_heartbeats()
    revoke = (await eventually(lambda: a.frames("REVOKE"), bool))[-1]
    await a.revoked(revoke["generation"], revoke["partitions"][topic])
    owned_by_b = await eventually(b.owned, lambda owned: len(owned) == 2)
    before = group_view(broker, group)
    frames_at_a = len(a.wire.unrouted)

    # pod-b "restarts": its connection dies without LEAVE, a new process
    # joins with a new member id and the same instance id.
    await b.stop_heartbeats()
    await b.wire.close()
    b2 = await raw_member(group, topic, "b-2")
    again = await b2.join(instance_id="pod-b")
    b2.start_heartbeats()

    assert set(again["partitions"][topic]) == owned_by_b
    assert again["generation"] == before["generation"]
    await asyncio.sleep(0.5)
    after = group_view(broker, group)
    assert after["generation"] == before["generation"]
    assert sorted(m["member_id"] for m in after["members"]) == ["a-1", "b-2"]
    # The other member heard nothing: no revoke, no new assignment.
    assert len(a.wire.unrouted) == frames_at_a
    assert_exclusive(after["log"])


async def test_a_silent_member_is_removed_after_the_session_timeout(
    broker: BrokerProcess, raw_member: Callable[..., Any], names: Callable[[str], str]
) -> None:
    topic, group = names("orders"), names("workers")
    silent = await raw_member(group, topic, "silent")
    live = await raw_member(group, topic, "live")
    await silent.join()
    silent.start_heartbeats()
    await live.join()
    live.start_heartbeats()
    revoke = (await eventually(lambda: silent.frames("REVOKE"), bool))[-1]
    await silent.revoked(revoke["generation"], revoke["partitions"][topic])
    await eventually(live.owned, lambda owned: len(owned) == 2)
    generation = group_view(broker, group)["generation"]

    await silent.stop_heartbeats()  # connected, but silent
    assert await eventually(
        live.owned, lambda owned: owned == ALL, within=SESSION_TIMEOUT_MS / 1000 + 5
    )
    view = group_view(broker, group)
    assert [m["member_id"] for m in view["members"]] == ["live"]
    assert view["generation"] == generation + 1
    assert_exclusive(view["log"])
