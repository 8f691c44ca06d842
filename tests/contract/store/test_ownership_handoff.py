"""The store's ownership grants driven by the controller's pure plan
(`promethean.broker_assignment`): brokers scale 1 → 3 → 2 with cooperative
handoffs, then one dies. Every step stays balanced, no graceful move ever
meets a stale fence, and every event is traceable to one grant."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from promethean.broker_assignment import (
    MoveAction,
    owned_counts,
    plan_moves,
    spread_partitions,
)
from promethean.errors import FencedError
from promethean.store import NewEvent, Store
from promethean.store.ownership_records import PartitionFence

from .builders import assert_one_writer_at_a_time, event

COUNTS = {"orders": 6, "audit": 3}
TTL = 10_000
T0 = 1_700_000_000_000


class Cluster:
    """Simulated brokers: what each believes it owns, and a controller that
    moves partitions through the store by `plan_moves`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.held: dict[tuple[str, int], tuple[str, int]] = {}
        """(topic, partition) → (broker, token), as the owning broker knows it."""
        self.sent = 0

    async def live_owners(self, now: int) -> dict[tuple[str, int], str]:
        return {
            (o.topic, o.partition): o.broker_id
            for o in await self.store.list_partition_owners()
            if o.live(now)
        }

    async def rebalance(self, brokers: list[str], up: set[str], now: int) -> None:
        """Spread over ``brokers``; ``up`` also holds brokers still running
        that are on their way out (they release before leaving)."""
        current = await self.live_owners(now)
        target = spread_partitions(brokers, COUNTS, current)
        for step in plan_moves(current, target, up):
            slot = (step.topic, step.partition)
            if step.action is MoveAction.RELEASE:
                _, token = self.held.pop(slot)
                assert await self.store.release_partition(*slot, step.broker, token)
            else:
                grant = await self.store.acquire_partition(*slot, step.broker, TTL, now)
                assert grant is not None, step
                self.held[slot] = (step.broker, grant.token)
        owned = owned_counts(brokers, await self.live_owners(now))
        assert max(owned.values()) - min(owned.values()) <= 1, owned

    async def publish_round(self) -> None:
        """Every owner appends one event to each partition it holds, in one call."""
        by_broker: dict[str, list[tuple[PartitionFence, Sequence[NewEvent]]]] = {}
        for (topic, partition), (broker, token) in sorted(self.held.items()):
            self.sent += 1
            batch = (PartitionFence(topic, partition, token), [event(f"e{self.sent}")])
            by_broker.setdefault(broker, []).append(batch)
        for batches in by_broker.values():
            await self.store.append_owned(batches)


async def test_scaling_one_to_three_to_two_then_a_crash(store: Store) -> None:
    cluster = Cluster(store)
    await cluster.rebalance(["b0"], {"b0"}, T0)
    await cluster.publish_round()
    await cluster.rebalance(["b0", "b1", "b2"], {"b0", "b1", "b2"}, T0 + 1)
    await cluster.publish_round()
    await cluster.rebalance(["b0", "b2"], {"b0", "b1", "b2"}, T0 + 2)  # b1 leaves gracefully
    await cluster.publish_round()

    dead = {slot: token for slot, (broker, token) in cluster.held.items() if broker == "b2"}
    for slot in dead:
        del cluster.held[slot]
    await cluster.rebalance(["b0"], {"b0"}, T0 + 2 + TTL)  # b2 died: its grants expired
    await cluster.publish_round()

    for (topic, partition), token in dead.items():
        with pytest.raises(FencedError):  # b2 resumes from a pause: fenced
            await store.append_owned([(PartitionFence(topic, partition, token), [event("late")])])
    total = 0
    for topic, count in COUNTS.items():
        for partition in range(count):
            await assert_one_writer_at_a_time(store, topic, partition)
            total += await store.count_events(topic, partition)
    assert total == cluster.sent == 4 * sum(COUNTS.values())
