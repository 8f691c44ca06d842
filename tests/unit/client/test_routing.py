"""The client's routing table without I/O: owners per partition from a
``METADATA_RESPONSE``, the broker's partitioner, owners learned from
``not_owner`` (never an older epoch over a newer one), keyless ids that land
on a partition with a known owner."""

from __future__ import annotations

import itertools

from promethean.client.routing import MAX_ID_DRAWS, RoutingTable
from promethean.frames import broker as bf
from promethean.frames.routing import BrokerAddress, PartitionOwnerRef, PartitionRoute, TopicRoutes
from promethean.partitioning import partition_for

A = BrokerAddress(id="b0", address="ws://b0/ws")
B = BrokerAddress(id="b1", address="ws://b1/ws")


def table(*owners: BrokerAddress | None, epoch: int = 7) -> RoutingTable:
    routes = [PartitionRoute(partition=p, epoch=1, owner=o) for p, o in enumerate(owners)]
    return RoutingTable(
        bf.MetadataResponse(
            epoch=epoch, brokers=[A, B], topics=[TopicRoutes(topic="orders", partitions=routes)]
        )
    )


def test_owner_of_each_partition() -> None:
    routes = table(A, B, None)
    assert routes.partitions("orders") == 3
    assert [routes.owner("orders", p) for p in range(3)] == ["ws://b0/ws", "ws://b1/ws", None]
    assert routes.owners("orders") == {"ws://b0/ws", "ws://b1/ws"}


def test_unknown_topic_or_partition_has_no_owner() -> None:
    routes = table(A, B)
    assert not routes.knows("users")
    assert routes.partitions("users") is None
    assert routes.owner("users", 0) is None
    assert routes.owner("orders", 5) is None
    assert routes.owners("users") == set()
    assert routes.partition_of("users", "k", "id-1") is None


def test_partition_is_computed_like_the_broker() -> None:
    routes = table(A, B, A, B)
    for key, event_id in [("user-1", "x"), (None, "id-42"), ("é", "y")]:
        assert routes.partition_of("orders", key, event_id) == partition_for(key, event_id, 4)


def test_keyless_id_is_redrawn_until_its_partition_has_an_owner() -> None:
    routes = table(A, None)
    counter = itertools.count()
    ids = (f"id-{n}" for n in counter)
    first = next(ids)
    chosen = routes.draw_routable_id("orders", first, lambda: next(ids))
    partition = routes.partition_of("orders", None, chosen)
    assert partition is not None
    assert routes.owner("orders", partition) == "ws://b0/ws"


def test_keyless_id_draws_are_bounded() -> None:
    routes = table(None, None)
    drawn: list[str] = []

    def new_id() -> str:
        drawn.append(f"id-{len(drawn)}")
        return drawn[-1]

    routes.draw_routable_id("orders", "first", new_id)
    assert len(drawn) == MAX_ID_DRAWS


def test_id_of_an_unknown_topic_is_kept() -> None:
    assert table(A).draw_routable_id("users", "mine", lambda: "other") == "mine"


def test_not_owner_teaches_the_new_owner() -> None:
    routes = table(A, B)
    moved = PartitionOwnerRef(id="b1", address="ws://b1/ws", epoch=2)
    assert routes.learn_owner("orders", 0, moved)
    assert routes.owner("orders", 0) == "ws://b1/ws"
    assert not routes.learn_owner("orders", 0, moved), "nothing new"


def test_an_older_owner_never_replaces_a_newer_one() -> None:
    routes = table(A, B)
    routes.learn_owner("orders", 0, PartitionOwnerRef(id="b1", address="ws://b1/ws", epoch=5))
    stale = PartitionOwnerRef(id="b0", address="ws://b0/ws", epoch=4)
    assert not routes.learn_owner("orders", 0, stale)
    assert routes.owner("orders", 0) == "ws://b1/ws"
    assert not routes.learn_owner("users", 0, stale), "unknown topic"


def test_newer_metadata_replaces_the_table() -> None:
    routes = table(A, epoch=7)
    assert routes.is_newer(bf.MetadataResponse(epoch=8, brokers=[], topics=[]))
    assert not routes.is_newer(bf.MetadataResponse(epoch=6, brokers=[], topics=[]))
