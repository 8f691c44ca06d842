"""`OfflineLag`: lag of groups with a commit and no live member, bounded."""

from __future__ import annotations

from promethean.bus.offline_lag import OfflineLag
from promethean.store.memory import MemoryStore
from promethean.store.records import NewEvent, TopicConfig


class NoneLive:
    def __init__(self, live: set[tuple[str, str]] | None = None) -> None:
        self.live = live or set()

    def group(self, group: str, topic: str) -> object | None:
        return object() if (group, topic) in self.live else None

    def high_watermark(self, topic: str, partition: int) -> int:
        return -1

    def writes(self, topic: str, partition: int) -> bool:
        return True


async def fill(store: MemoryStore, topic: str, events: int) -> None:
    await store.create_topic(TopicConfig(name=topic, partitions=1))
    await store.append(
        topic, 0, [NewEvent(id=f"{topic}-{n}", ts=0, payload=b"1") for n in range(events)]
    )


async def test_offline_groups_get_lag_from_their_commits(store: MemoryStore) -> None:
    await fill(store, "orders", 10)
    await store.commit("billing", "orders", {0: 3})
    await store.commit("shipping", "orders", {0: 9})
    live = NoneLive({("shipping", "orders")})
    lag = OfflineLag(store, live, max_groups=10, refresh_ms=15_000)

    assert lag.due(0)
    snapshot = await lag.refresh(0)
    assert [(g.group, g.lag(0)) for g in snapshot.groups] == [("billing", 6)]
    assert snapshot.omitted == 0
    assert not lag.due(14_999)
    assert lag.due(15_000)

    live.live.add(("billing", "orders"))
    assert lag.current().groups == [], "a group that came back is live again"


async def test_groups_beyond_the_cap_are_counted_not_read(store: MemoryStore) -> None:
    for topic in ("a", "b"):
        await fill(store, topic, 2)
        for group in ("g1", "g2", "g3"):
            await store.commit(group, topic, {0: 0})
    snapshot = await OfflineLag(store, NoneLive(), max_groups=4).refresh(0)
    assert [(g.topic, g.group) for g in snapshot.groups] == [
        ("a", "g1"),
        ("a", "g2"),
        ("a", "g3"),
        ("b", "g1"),
    ]
    assert snapshot.omitted == 2


class WritesPartitionZero(NoneLive):
    """A broker of a cluster that writes partition 0 only."""

    def writes(self, topic: str, partition: int) -> bool:
        return partition == 0


async def test_a_live_group_gets_the_partitions_other_brokers_write(store: MemoryStore) -> None:
    await store.create_topic(TopicConfig(name="orders", partitions=3))
    for partition in range(3):
        await store.append(
            "orders",
            partition,
            [NewEvent(id=f"e{partition}-{n}", ts=0, payload=b"1") for n in range(4)],
        )
    await store.commit("billing", "orders", {0: 0, 1: 1, 2: 2})
    live = WritesPartitionZero({("billing", "orders")})
    lag = OfflineLag(store, live, max_groups=10)
    snapshot = await lag.refresh(0)

    (elsewhere,) = snapshot.groups
    assert elsewhere.live
    assert (elsewhere.committed, elsewhere.latest) == ({1: 1, 2: 2}, {1: 3, 2: 3})
    assert (elsewhere.lag(1), elsewhere.lag(2)) == (2, 1)
    live.live.clear()
    assert lag.current().groups == [], "its members left: out until the next refresh"
