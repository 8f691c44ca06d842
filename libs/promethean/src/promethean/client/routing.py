"""The client's routing table: which broker owns each partition, as the
newest ``METADATA_RESPONSE`` (and the ``ERR not_owner`` replies since) told
it. Pure data, no I/O.

A publish goes to the owner of the partition the broker will put it in,
computed the broker's way (`promethean.partitioning.partition_for`: the key,
else the event id). Epochs only grow, so an older view never overwrites a
newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from promethean.frames import broker as bf
from promethean.frames.routing import BrokerAddress, PartitionOwnerRef, PartitionRoute
from promethean.partitioning import partition_for

MAX_ID_DRAWS: Final = 8
"""Fresh ids a keyless publish may draw to land on a partition with a known
owner (each draw hashes to a partition; an owner is usually known)."""


class RoutingTable:
    """topic → partition → owner address and epoch."""

    def __init__(self, response: bf.MetadataResponse) -> None:
        self.epoch = response.epoch
        self._routes: dict[str, list[PartitionRoute]] = {
            topic.topic: sorted(topic.partitions, key=lambda route: route.partition)
            for topic in response.topics
        }
        self.brokers = {broker.id: broker.address for broker in response.brokers}

    def is_newer(self, response: bf.MetadataResponse) -> bool:
        """Whether ``response`` should replace this table."""
        return response.epoch >= self.epoch

    def knows(self, topic: str) -> bool:
        return topic in self._routes

    def partitions(self, topic: str) -> int | None:
        routes = self._routes.get(topic)
        return len(routes) if routes else None

    def owner(self, topic: str, partition: int) -> str | None:
        """The address of the partition's owner; None while it moves or
        when the topic or partition is unknown."""
        routes = self._routes.get(topic)
        if routes is None or not 0 <= partition < len(routes):
            return None
        owner = routes[partition].owner
        return owner.address if owner is not None else None

    def owners(self, topic: str) -> set[str]:
        """Every broker owning some partition of ``topic``."""
        return {
            route.owner.address for route in self._routes.get(topic, ()) if route.owner is not None
        }

    def partition_of(self, topic: str, key: str | None, event_id: str) -> int | None:
        """Where the broker puts the event; None for a topic not in the table."""
        count = self.partitions(topic)
        return None if count is None else partition_for(key, event_id, count)

    def draw_routable_id(self, topic: str, first_id: str, new_id: Callable[[], str]) -> str:
        """An id for a keyless publish whose partition has a known owner:
        ``first_id`` when it qualifies, else one of at most `MAX_ID_DRAWS`
        fresh ones (the last drawn when none does)."""
        event_id = first_id
        for _ in range(MAX_ID_DRAWS):
            partition = self.partition_of(topic, None, event_id)
            if partition is None or self.owner(topic, partition) is not None:
                return event_id
            event_id = new_id()
        return event_id

    def learn_owner(self, topic: str, partition: int, owner: PartitionOwnerRef) -> bool:
        """Take the owner named by ``ERR not_owner`` unless the table already
        holds a newer route; True when the route changed."""
        routes = self._routes.get(topic)
        if routes is None or not 0 <= partition < len(routes):
            return False
        current = routes[partition]
        if owner.epoch < current.epoch:
            return False
        known = current.owner
        if known is not None and known.address == owner.address and owner.epoch == current.epoch:
            return False
        routes[partition] = PartitionRoute(
            partition=partition,
            epoch=owner.epoch,
            owner=BrokerAddress(id=owner.id, address=owner.address),
        )
        return True
