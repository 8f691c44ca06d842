"""Engine delivery semantics: leases, redelivery, MODACK, NACK, DLQ,
filters, competing consumers, bounded hand-outs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import pytest

from promethean.bus import EventFilter, StartKind, StartPosition
from promethean.bus.dlq import (
    H_ATTEMPTS,
    H_GROUP,
    H_ORIGINAL_ID,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_TOPIC,
    H_ORIGINAL_TS,
    H_REASON,
)
from promethean.clock import FakeClock
from promethean.errors import FrameError, StoreUnavailableError
from promethean.store.memory import MemoryStore
from promethean.store.records import AppendResult, Fence, NewEvent
from tests.unit.bus.conftest import MakeHarness
from tests.unit.bus.support import ACK_TIMEOUT_MS, Harness, Inbox, config, ref

EARLIEST = StartPosition(StartKind.EARLIEST)


async def test_first_delivery_carries_attempt_one_and_a_deadline(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing")
    await bus.publish("orders", {"id": 1}, key="k")
    await bus.engine.settle()
    (delivery,) = inbox.deliveries
    assert (delivery.attempt, delivery.group) == (1, "billing")
    assert delivery.ack_deadline_ms == bus.clock.now_ms() + ACK_TIMEOUT_MS
    assert json.loads(delivery.event.payload) == {"id": 1}


async def test_unacked_delivery_is_redelivered_after_its_deadline(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing")
    await bus.publish("orders", {"id": 1})
    await bus.engine.settle()
    first = inbox.take()[0]

    assert await bus.tick(ACK_TIMEOUT_MS - 1) == 0
    assert inbox.deliveries == []
    assert await bus.tick(1) == 1
    (again,) = inbox.take()
    assert (again.event.offset, again.attempt) == (first.event.offset, 2)
    attempts = await bus.store.get_attempts("billing", "orders", 0, 0)
    assert attempts == {first.event.offset: 1}, "the failed attempt is counted durably"

    assert bus.engine.ack(ref(again)) is True
    assert await bus.tick(10 * ACK_TIMEOUT_MS) == 0
    assert inbox.deliveries == []


async def test_per_subscription_ack_timeout(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing", ack_timeout_ms=5_000)
    await bus.publish("orders", {})
    await bus.engine.settle()
    inbox.take()
    assert await bus.tick(4_999) == 0
    assert await bus.tick(1) == 1


async def test_modack_defers_and_modack_zero_returns_now(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing")
    await bus.publish("orders", {})
    await bus.engine.settle()
    first = inbox.take()[0]

    assert bus.engine.modack(ref(first), 5_000) is True
    assert await bus.tick(ACK_TIMEOUT_MS + 1) == 0, "extended past the original deadline"
    assert await bus.tick(5_000 - ACK_TIMEOUT_MS - 2) == 0
    assert await bus.tick(1) == 1
    second = inbox.take()[0]
    assert second.attempt == 2

    assert bus.engine.modack(ref(second), 0) is True
    assert await bus.tick(0) == 1
    assert [d.attempt for d in inbox.take()] == [3]


async def test_nack_redelivers_at_once(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing")
    await bus.publish("orders", {})
    await bus.engine.settle()
    first = inbox.take()[0]
    await bus.engine.nack(ref(first), "busy")
    await bus.engine.settle()
    (again,) = inbox.take()
    assert (again.event.offset, again.attempt) == (first.event.offset, 2)


async def test_nack_backoff_delays_the_redelivery(make_harness: MakeHarness) -> None:
    bus = await make_harness(redelivery_backoff_ms=200, redelivery_backoff_max_ms=300)
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing", ack_timeout_ms=60_000)
    await bus.publish("orders", {})
    await bus.engine.settle()
    await bus.engine.nack(ref(inbox.take()[0]))
    await bus.tick(199)
    assert inbox.deliveries == []
    await bus.tick(1)
    second = inbox.take()[0]
    await bus.engine.nack(ref(second))
    await bus.tick(299)  # 200 * 2 = 400, capped at 300
    assert inbox.deliveries == []
    await bus.tick(1)
    assert [d.attempt for d in inbox.take()] == [3]


async def test_dead_letter_after_max_attempts(make_harness: MakeHarness) -> None:
    bus = await make_harness(default_max_attempts=3)
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "billing")
    original = await bus.publish("orders", {"bad": True}, key="k9", id="evt-9", headers={"h": "v"})
    await bus.engine.settle()
    seen = []
    for _ in range(3):
        delivery = inbox.take()[0]
        seen.append(delivery.attempt)
        await bus.engine.nack(ref(delivery), "cannot parse")
        await bus.engine.settle()
    assert seen == [1, 2, 3]
    assert inbox.deliveries == [], "no fourth attempt"

    dlq = await bus.store.read("orders.DLQ", 0, 0, 10)
    assert len(dlq) == 1
    dead = dlq[0]
    assert json.loads(dead.payload) == {"bad": True}
    assert dead.key == "k9"
    assert dead.caused_by == ["evt-9"]
    assert dead.headers == {
        "h": "v",
        H_ORIGINAL_TOPIC: "orders",
        H_ORIGINAL_PARTITION: str(original.partition),
        H_ORIGINAL_OFFSET: str(original.offset),
        H_ORIGINAL_ID: "evt-9",
        H_ORIGINAL_TS: str(bus.clock.now_ms()),
        H_GROUP: "billing",
        H_ATTEMPTS: "3",
        H_REASON: "cannot parse",
    }
    # Dead-lettered counts as done for the commit.
    cursor = bus.engine.group("billing", "orders").cursors[0]  # type: ignore[union-attr]
    assert cursor.committed == original.offset
    await bus.engine.flush_commits()
    assert (await bus.store.get_commits("billing", "orders"))[0].offset == original.offset


async def test_two_groups_dead_lettering_one_event_get_one_record_each(
    make_harness: MakeHarness,
) -> None:
    bus = await make_harness(default_max_attempts=1)
    a, b = Inbox("a"), Inbox("b")
    await bus.engine.subscribe(a, "orders", "ga")
    await bus.engine.subscribe(b, "orders", "gb")
    await bus.publish("orders", {}, id="x")
    await bus.engine.settle()
    await bus.engine.nack(ref(a.take()[0]))
    await bus.engine.nack(ref(b.take()[0]))
    dlq = await bus.store.read("orders.DLQ", 0, 0, 10)
    assert sorted(e.headers[H_GROUP] for e in dlq) == ["ga", "gb"]  # type: ignore[index]


async def test_dlq_topics_never_dead_letter_themselves(make_harness: MakeHarness) -> None:
    bus = await make_harness(default_max_attempts=1)
    inbox = Inbox("ops")
    await bus.engine.subscribe(inbox, "orders.DLQ", "ops")
    await bus.publish("orders.DLQ", {"already": "dead"})
    await bus.engine.settle()
    for attempt in (1, 2, 3):
        delivery = inbox.take()[0]
        assert delivery.attempt == attempt
        await bus.engine.nack(ref(delivery))
        await bus.engine.settle()
    assert await bus.store.latest_offset("orders.DLQ.DLQ", 0) == -1


async def test_filtered_out_events_count_as_done(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(
        inbox, "orders", "eu", start=EARLIEST, event_filter=EventFilter(header=("region", "eu"))
    )
    for i, region in enumerate(["us", "eu", "us", "us", "eu", "us"]):
        await bus.publish("orders", {"i": i}, headers={"region": region})
    await bus.engine.settle()
    assert [d.event.offset for d in inbox.deliveries] == [1, 4]
    for delivery in inbox.take():
        bus.engine.ack(ref(delivery))
    await bus.engine.settle()
    await bus.engine.flush_commits()
    assert (await bus.store.get_commits("eu", "orders"))[0].offset == 5


async def test_a_group_has_one_filter(bus: Harness) -> None:
    await bus.engine.subscribe(Inbox("a"), "orders", "g", event_filter=EventFilter(key="k"))
    with pytest.raises(FrameError) as refused:
        await bus.engine.subscribe(Inbox("b"), "orders", "g", event_filter=EventFilter(key="j"))
    assert refused.value.code == "bad_field"


async def test_competing_consumers_share_the_work(bus: Harness) -> None:
    members = [Inbox(f"m{i}") for i in range(3)]
    for member in members:
        await bus.engine.subscribe(member, "jobs", "workers", max_inflight=2)
    await bus.publish_many("jobs", 12)
    await bus.engine.settle()
    assert [len(m.deliveries) for m in members] == [2, 2, 2], "max_inflight bounds each member"

    handled: list[int] = []
    while True:
        batch = [d for m in members for d in m.take()]
        if not batch:
            break
        for delivery in batch:
            handled.append(delivery.event.offset)
            bus.engine.ack(ref(delivery))
        await bus.engine.settle()
    assert sorted(handled) == list(range(12)), "every event once, to exactly one member"


async def test_another_group_gets_its_own_copy(bus: Harness) -> None:
    a, b = Inbox("a"), Inbox("b")
    await bus.engine.subscribe(a, "orders", "billing")
    await bus.engine.subscribe(b, "orders", "shipping")
    await bus.publish_many("orders", 3)
    await bus.engine.settle()
    assert a.offsets() == b.offsets() == [(0, 0), (0, 1), (0, 2)]


async def test_credits_gate_deliveries(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g", credits=2)
    await bus.publish_many("orders", 5)
    await bus.engine.settle()
    assert len(inbox.deliveries) == 2
    assert bus.engine.grant_credits("c1", 2, "orders", "g") == 1
    await bus.engine.settle()
    assert len(inbox.deliveries) == 4
    assert bus.engine.grant_credits("c1", 5, "other", "g") == 0


async def test_a_consumer_that_cannot_take_more_is_dropped(bus: Harness) -> None:
    slow, other = Inbox("slow", capacity=1), Inbox("other")
    await bus.engine.subscribe(slow, "orders", "g")
    await bus.publish_many("orders", 4)
    await bus.engine.settle()
    assert slow.dropped is True
    assert len(slow.deliveries) == 1
    # Its hand-outs go back to the group when the connection goes away.
    await bus.engine.subscribe(other, "orders", "g")
    await bus.engine.release_consumer("slow")
    await bus.engine.settle()
    assert sorted(d.event.offset for d in other.deliveries) == [0, 1, 2, 3]


async def test_acks_name_live_work_only(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish_many("orders", 2)
    await bus.engine.settle()
    first = inbox.deliveries[0]
    from promethean.bus import AckRef

    with pytest.raises(FrameError) as unknown:
        bus.engine.ack(AckRef("orders", "g", 0, 99))
    assert unknown.value.code == "unknown_delivery"
    with pytest.raises(FrameError) as not_subscribed:
        bus.engine.ack(AckRef("orders", "nobody", 0, 0))
    assert not_subscribed.value.code == "not_subscribed"
    with pytest.raises(FrameError) as no_partition:
        bus.engine.ack(AckRef("orders", "g", 7, 0))
    assert no_partition.value.code == "unknown_delivery"

    assert bus.engine.ack(ref(first)) is True
    assert bus.engine.ack(ref(first)) is False, "acking finished work is a no-op"
    assert bus.engine.modack(ref(first), 100) is False
    await bus.engine.nack(ref(first))  # a no-op too
    await bus.engine.settle()
    assert len(inbox.deliveries) == 2


async def test_late_ack_of_expired_work_is_accepted(bus: Harness) -> None:
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g", max_inflight=1)
    await bus.publish("orders", {})
    await bus.engine.settle()
    first = inbox.take()[0]
    await bus.tick(ACK_TIMEOUT_MS)
    redelivered = inbox.take()[0]
    assert bus.engine.ack(ref(first)) is True
    assert bus.engine.group("g", "orders").cursors[0].committed == 0  # type: ignore[union-attr]
    assert bus.engine.ack(ref(redelivered)) is False


class _FlakyStore(MemoryStore):
    """The memory store, told to fail attempt counting or appends to some
    topics while ``failing`` is set."""

    failing = False
    fail_appends_to: frozenset[str] = frozenset()

    async def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        if self.failing:
            raise StoreUnavailableError("store is down")
        return await super().add_attempts(group, topic, partition, offsets)

    async def append(
        self, topic: str, partition: int, events: Sequence[NewEvent], *, fence: Fence | None = None
    ) -> list[AppendResult]:
        if topic in self.fail_appends_to:
            raise StoreUnavailableError("store is down")
        return await super().append(topic, partition, events, fence=fence)

    async def append_many(
        self,
        batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
        *,
        fence: Fence | None = None,
    ) -> list[list[AppendResult]]:
        if any(topic in self.fail_appends_to for topic, _, _ in batches):
            raise StoreUnavailableError("store is down")
        return await super().append_many(batches, fence=fence)


@pytest.fixture
async def flaky(clock: FakeClock) -> AsyncIterator[tuple[_FlakyStore, Harness]]:
    store = _FlakyStore("memory://flaky")
    await store.open()
    bus = Harness(store, clock, config(default_max_attempts=2))
    try:
        yield store, bus
    finally:
        await bus.engine.close()
        await store.close()


async def test_expiry_during_a_store_outage_is_retried_later(
    flaky: tuple[_FlakyStore, Harness],
) -> None:
    """A failed attempt that cannot be counted stays in flight: the next
    timer pass counts it and redelivers; the group never stalls on it."""
    store, bus = flaky
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish("orders", {})
    await bus.engine.settle()
    first = inbox.take()[0]

    store.failing = True
    with pytest.raises(StoreUnavailableError):
        await bus.tick(ACK_TIMEOUT_MS)
    with pytest.raises(StoreUnavailableError):
        await bus.tick(1)
    store.failing = False
    assert await bus.tick(1) == 1
    (again,) = inbox.take()
    assert (again.event.offset, again.attempt) == (first.event.offset, 2)
    bus.engine.ack(ref(again))
    assert bus.engine.group("g", "orders").cursors[0].committed == 0  # type: ignore[union-attr]


async def test_a_failed_dead_letter_is_tried_again(flaky: tuple[_FlakyStore, Harness]) -> None:
    store, bus = flaky
    inbox = Inbox("c1")
    await bus.engine.subscribe(inbox, "orders", "g")
    await bus.publish("orders", {"poison": 1})
    await bus.engine.settle()
    await bus.engine.nack(ref(inbox.take()[0]))
    await bus.engine.settle()
    last = inbox.take()[0]

    store.fail_appends_to = frozenset({"orders.DLQ"})
    with pytest.raises(StoreUnavailableError):
        await bus.engine.nack(ref(last))
    assert bus.engine.group("g", "orders").cursors[0].committed == -1  # type: ignore[union-attr]
    store.fail_appends_to = frozenset()
    await bus.tick(1)
    assert inbox.deliveries == [], "exhausted: dead-lettered, not delivered a third time"
    assert len(await store.read("orders.DLQ", 0, 0, 10)) == 1
    assert bus.engine.group("g", "orders").cursors[0].committed == 0  # type: ignore[union-attr]


async def test_work_of_a_consumer_lost_during_an_outage_is_not_lost(
    flaky: tuple[_FlakyStore, Harness],
) -> None:
    store, bus = flaky
    lost, alive = Inbox("lost"), Inbox("alive")
    await bus.engine.subscribe(lost, "orders", "g")
    await bus.engine.subscribe(lost, "other", "g")
    await bus.publish("orders", {})
    await bus.engine.settle()
    await bus.engine.subscribe(alive, "orders", "g")

    store.failing = True
    await bus.engine.release_consumer("lost")  # logs, does not raise
    assert bus.engine.subscriptions_of("lost") == []
    store.failing = False
    await bus.tick(1)
    assert [(d.event.offset, d.attempt) for d in alive.deliveries] == [(0, 2)]
