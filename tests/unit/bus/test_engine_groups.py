"""Engine group state: start positions, commits, consumer loss, restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from promethean.bus import StartKind, StartPosition
from promethean.errors import FrameError
from tests.unit.bus.conftest import MakeHarness
from tests.unit.bus.support import ACK_TIMEOUT_MS, Harness, Inbox, ref


async def _offsets_seen(bus: Harness, start: StartPosition | None, group: str) -> list[int]:
    inbox = Inbox(f"reader-{group}")
    await bus.engine.subscribe(inbox, "orders", group, start=start)
    await bus.engine.settle()
    return [d.event.offset for d in inbox.deliveries]


async def test_fresh_group_start_positions(bus: Harness) -> None:
    for i in range(5):
        await bus.publish("orders", {"i": i})
        bus.clock.advance(1_000)
    first_ts = (await bus.store.read("orders", 0, 0, 1))[0].ts

    assert await _offsets_seen(bus, None, "default") == [], "latest by default"
    assert await _offsets_seen(bus, StartPosition(StartKind.LATEST), "latest") == []
    assert await _offsets_seen(bus, StartPosition(StartKind.EARLIEST), "earliest") == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert await _offsets_seen(bus, StartPosition(StartKind.OFFSET, 3), "offset") == [3, 4]
    assert await _offsets_seen(bus, StartPosition(StartKind.OFFSET, 99), "beyond") == []
    by_time = StartPosition(StartKind.TIMESTAMP, first_ts + 2_000)
    assert await _offsets_seen(bus, by_time, "timestamp") == [2, 3, 4]

    await bus.publish("orders", {"i": 5})
    await bus.engine.settle()
    latest = bus.engine.group("latest", "orders")
    assert latest is not None
    assert latest.cursors[0].inflight.keys() == {5}


async def test_the_start_position_is_durable_at_once(bus: Harness) -> None:
    await bus.publish_many("orders", 3)
    await bus.engine.subscribe(Inbox("c1"), "orders", "g")
    assert (await bus.store.get_commits("g", "orders"))[0].offset == 2
    await bus.restart()
    await bus.publish("orders", {"new": True})
    inbox = Inbox("c2")
    await bus.engine.subscribe(inbox, "orders", "g", start=StartPosition(StartKind.EARLIEST))
    await bus.engine.settle()
    assert [d.event.offset for d in inbox.deliveries] == [3], "stored position beats `from`"


async def test_commits_are_the_contiguous_low_watermark(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g", start=StartPosition(StartKind.EARLIEST))
    await bus.publish_many("orders", 5)
    await bus.engine.settle()
    by_offset = {d.event.offset: d for d in inbox.deliveries}

    async def durable() -> int:
        await bus.engine.flush_commits()
        return (await bus.store.get_commits("g", "orders"))[0].offset

    for offset in (1, 3, 4):
        bus.engine.ack(ref(by_offset[offset]))
    assert await durable() == -1
    bus.engine.ack(ref(by_offset[0]))
    assert await durable() == 1
    bus.engine.ack(ref(by_offset[2]))
    assert await durable() == 4
    assert await bus.engine.flush_commits() == 0, "nothing left to write"


async def test_committed_attempts_are_cleared(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish("orders", {})
    await bus.engine.settle()
    await bus.engine.nack(ref(inbox.take()[0]))
    await bus.engine.settle()
    assert await bus.store.get_attempts("g", "orders", 0, 0) == {0: 1}
    bus.engine.ack(ref(inbox.take()[0]))
    await bus.engine.flush_commits()
    assert await bus.store.get_attempts("g", "orders", 0, 0) == {}


async def test_lost_consumer_work_goes_to_a_live_member(bus: Harness) -> None:
    lost, alive = Inbox("lost"), Inbox("alive")
    await bus.engine.subscribe(lost, "orders", "g", max_inflight=10)
    await bus.publish_many("orders", 3)
    await bus.engine.settle()
    await bus.engine.subscribe(alive, "orders", "g")
    await bus.engine.settle()
    assert len(lost.deliveries) == 3
    assert alive.deliveries == []

    await bus.engine.release_consumer("lost")
    await bus.engine.settle()
    assert sorted((d.event.offset, d.attempt) for d in alive.deliveries) == [(0, 2), (1, 2), (2, 2)]
    assert await bus.store.get_attempts("g", "orders", 0, 0) == {0: 1, 1: 1, 2: 1}


async def test_last_member_leaving_persists_and_forgets_the_group(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish_many("orders", 3)
    await bus.engine.settle()
    bus.engine.ack(ref(inbox.deliveries[0]))
    assert await bus.engine.unsubscribe("c1", "orders", "g") is True
    assert bus.engine.group("g", "orders") is None
    assert (await bus.store.get_commits("g", "orders"))[0].offset == 0
    assert await bus.engine.unsubscribe("c1", "orders", "g") is False

    back = Inbox("c2")
    await bus.engine.subscribe(back, "orders", "g")
    await bus.engine.settle()
    assert [(d.event.offset, d.attempt) for d in back.deliveries] == [(1, 2), (2, 2)]


async def test_restart_resumes_from_the_commit_with_attempts_counted(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g", start=StartPosition(StartKind.EARLIEST))
    await bus.publish_many("orders", 4)
    await bus.engine.settle()
    first, second, third, _ = inbox.take()
    bus.engine.ack(ref(first))
    await bus.engine.flush_commits()
    await bus.engine.nack(ref(third))  # one failed attempt for offset 2
    # A crash before the next flush: the ack of offset 1 is lost.
    bus.engine.ack(ref(second))
    crashed = bus.crash()

    again = Inbox("c2")
    await bus.engine.subscribe(again, "orders", "g")
    await bus.engine.settle()
    # Resumes right after the commit; the durably counted failure of
    # offset 2 shows in its attempt; offset 1 comes again (at-least-once).
    assert [(d.event.offset, d.attempt) for d in again.deliveries] == [(1, 1), (2, 2), (3, 1)]
    await crashed.close()


async def test_clean_restart_flushes_the_last_acks(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g", start=StartPosition(StartKind.EARLIEST))
    await bus.publish_many("orders", 3)
    await bus.engine.settle()
    for delivery in inbox.take()[:2]:
        bus.engine.ack(ref(delivery))
    await bus.restart()
    assert (await bus.store.get_commits("g", "orders"))[0].offset == 1


async def test_subscribing_twice_on_one_connection_is_refused(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    with pytest.raises(FrameError) as refused:
        await bus.engine.subscribe(inbox, "orders", "g")
    assert refused.value.code == "bad_frame"
    await bus.engine.subscribe(inbox, "orders", "other-group")


async def test_expired_work_of_a_dropped_group_is_not_lost(make_harness: MakeHarness) -> None:
    bus = await make_harness(redelivery_backoff_ms=60_000)
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish("orders", {})
    await bus.engine.settle()
    await bus.tick(ACK_TIMEOUT_MS)  # expired; its redelivery waits out the backoff
    assert bus.engine.group("g", "orders").cursors[0].waiting_retry == 1  # type: ignore[union-attr]
    await bus.engine.release_consumer("c1")
    assert bus.engine.group("g", "orders") is None
    back = Inbox("c2")
    await bus.engine.subscribe(back, "orders", "g")
    await bus.engine.settle()
    assert [(d.event.offset, d.attempt) for d in back.deliveries] == [(0, 2)]


async def test_a_grown_topic_gives_new_groups_every_partition(make_harness: MakeHarness) -> None:
    """Growing a topic reaches groups as they load; the admin API grows
    partitions through the store and the registry."""
    bus = await make_harness(default_partitions=2)
    await bus.publish("orders", {}, key="a")
    config = await bus.engine.topics.get("orders")
    assert config is not None
    assert config.partitions == 2
    grown = await bus.engine.topics.put(type(config)(name="orders", partitions=3))
    assert grown.partitions == 3
    _, partitions = await bus.engine.subscribe(Inbox("c"), "orders", "fresh")
    assert partitions == 3


async def _grow(bus: Harness, topic: str, partitions: int) -> None:
    config = await bus.engine.topics.get(topic)
    assert config is not None
    await bus.engine.put_topic(msgspec.structs.replace(config, partitions=partitions))


async def test_a_live_group_reads_the_partitions_its_topic_grew_by(bus: Harness) -> None:
    inbox = Inbox("c1")
    _, partitions = await bus.engine.subscribe(inbox, "orders", "g")  # starts at "latest"
    assert partitions == 1
    await _grow(bus, "orders", 4)
    results = [await bus.publish("orders", {"k": k}, key=f"key-{k}") for k in range(40)]
    assert {r.partition for r in results} == {0, 1, 2, 3}, "keys spread over the new partitions"
    await bus.engine.settle()
    assert sorted(inbox.offsets()) == sorted((r.partition, r.offset) for r in results)
    assert set(await bus.store.get_commits("g", "orders")) == {0, 1, 2, 3}, (
        "the new partitions' start is durable at once"
    )


async def test_events_appended_before_the_group_grew_are_not_skipped(bus: Harness) -> None:
    """Routing changes the moment the config is stored; a publish landing in
    a new partition before the group adds its cursor is still read."""
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    config = await bus.engine.topics.get("orders")
    assert config is not None
    await bus.engine.topics.put(msgspec.structs.replace(config, partitions=3))
    early = [await bus.publish("orders", {"k": k}, key=f"key-{k}") for k in range(20)]
    assert any(r.partition > 0 for r in early)
    await bus.engine.subscribe(Inbox("c2"), "orders", "g")  # any later subscribe grows the group
    await bus.engine.settle()
    group = bus.engine.group("g", "orders")
    assert group is not None
    assert sorted(group.cursors) == [0, 1, 2]
    assert group.inflight == len(early)


async def test_growth_reaches_a_group_after_restart_too(bus: Harness) -> None:
    await bus.engine.subscribe(Inbox("c1"), "orders", "g")
    await _grow(bus, "orders", 2)
    await bus.restart()
    inbox = Inbox("c2")
    _, partitions = await bus.engine.subscribe(inbox, "orders", "g")
    assert partitions == 2
    results = [await bus.publish("orders", {"k": k}, key=f"key-{k}") for k in range(20)]
    await bus.engine.settle()
    assert sorted(inbox.offsets()) == sorted((r.partition, r.offset) for r in results)


async def test_a_group_left_by_everyone_leaves_no_state_behind(bus: Harness) -> None:
    for n in range(50):
        inbox = Inbox(f"c{n}")
        await bus.engine.subscribe(inbox, "orders", f"g{n}")
        await bus.engine.release_consumer(inbox.consumer_id)
    assert bus.engine.groups() == []
    assert len(bus.engine._group_locks) == 0, "per-group locks are bounded by live groups"


async def test_partitions_added_while_the_group_was_offline_are_read_from_their_start(
    bus: Harness,
) -> None:
    await bus.engine.subscribe(Inbox("c1"), "orders", "g")  # starts at "latest"
    await bus.engine.release_consumer("c1")
    assert bus.engine.group("g", "orders") is None
    await _grow(bus, "orders", 4)
    results = [await bus.publish("orders", {"k": k}, key=f"key-{k}") for k in range(40)]
    inbox = Inbox("c2")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.engine.settle()
    assert sorted(inbox.offsets()) == sorted((r.partition, r.offset) for r in results)


async def test_a_group_loading_while_its_topic_grows_gets_the_new_partitions(
    bus: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bus.publish("orders", {"k": 0})
    loading = asyncio.Event()
    get_commits = bus.store.get_commits

    async def slow_get_commits(group: str, topic: str) -> Any:
        loading.set()
        await asyncio.sleep(0.01)
        return await get_commits(group, topic)

    monkeypatch.setattr(bus.store, "get_commits", slow_get_commits)
    inbox = Inbox("c1")
    subscribing = asyncio.create_task(bus.engine.subscribe(inbox, "orders", "g"))
    await loading.wait()
    await _grow(bus, "orders", 4)
    _, partitions = await subscribing
    assert partitions == 4
    results = [await bus.publish("orders", {"k": k}, key=f"key-{k}") for k in range(40)]
    await bus.engine.settle()
    assert sorted(inbox.offsets()) == sorted((r.partition, r.offset) for r in results)


async def test_a_member_joining_while_the_last_one_leaves_keeps_the_group(
    bus: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bus.publish("orders", {"k": 0})
    first = Inbox("c1")
    await bus.engine.subscribe(first, "orders", "g", start=StartPosition(StartKind.EARLIEST))
    await bus.engine.settle()
    bus.engine.ack(ref(first.deliveries[0]))
    flushing = asyncio.Event()
    commit = bus.store.commit

    async def slow_commit(*args: Any, **kwargs: Any) -> Any:
        flushing.set()
        await asyncio.sleep(0.01)
        return await commit(*args, **kwargs)

    monkeypatch.setattr(bus.store, "commit", slow_commit)
    leaving = asyncio.create_task(bus.engine.release_consumer("c1"))
    await flushing.wait()
    second = Inbox("c2")
    await bus.engine.subscribe(second, "orders", "g")
    await leaving
    for n in range(3):
        await bus.publish("orders", {"k": n + 1})
    await bus.engine.settle()
    assert [d.event.offset for d in second.deliveries] == [1, 2, 3]
    for delivery in second.deliveries:
        assert bus.engine.ack(ref(delivery)), "the joining member's group is the live one"
