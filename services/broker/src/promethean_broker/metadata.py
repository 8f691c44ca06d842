"""``METADATA``: where each partition lives, read from the store so every
broker gives the same answer.

The reply's ``epoch`` versions the whole ownership table: each partition
counts ``2 * token``, plus one while it has no live owner (released or
expired). A partition's count only grows (a release or expiry adds one, the
next grant with token + 1 one more), so the sum grows with every route
change, and it is always taken over every partition, whatever topics were
asked for, so replies from different brokers compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from promethean.frames import broker as bf
from promethean.frames.routing import BrokerAddress, PartitionRoute, TopicRoutes
from promethean.store.ownership_records import PartitionOwner
from promethean.store.port import Store
from promethean_broker.session import HandlerTable, Session, handles


def _epoch(owners: list[PartitionOwner], now_ms: int) -> int:
    return sum(2 * o.token + (0 if o.live(now_ms) else 1) for o in owners)


class ClusterView:
    """The routing table as the store has it now."""

    def __init__(self, store: Store, now_ms: Callable[[], int]) -> None:
        self._store = store
        self._now_ms = now_ms

    async def describe(
        self, topics: list[str] | None, corr: str | int | None = None
    ) -> bf.MetadataResponse:
        now = self._now_ms()
        brokers = {
            b.broker_id: BrokerAddress(id=b.broker_id, address=b.address)
            for b in await self._store.list_brokers(now)
        }
        owners = await self._store.list_partition_owners()
        by_slot = {(o.topic, o.partition): o for o in owners}
        configs = sorted(await self._store.list_topics(), key=lambda c: c.name)
        wanted = None if topics is None else set(topics)
        routes = [
            TopicRoutes(
                topic=config.name,
                partitions=[
                    _route(by_slot.get((config.name, p)), p, brokers, now)
                    for p in range(config.partitions)
                ],
            )
            for config in configs
            if wanted is None or config.name in wanted
        ]
        return bf.MetadataResponse(
            corr=corr, epoch=_epoch(owners, now), brokers=list(brokers.values()), topics=routes
        )


def _route(
    owner: PartitionOwner | None, partition: int, brokers: dict[str, BrokerAddress], now_ms: int
) -> PartitionRoute:
    if owner is None:
        return PartitionRoute(partition=partition, epoch=0)
    live = owner.live(now_ms) and owner.broker_id in brokers
    return PartitionRoute(
        partition=partition,
        epoch=owner.token,
        owner=brokers[owner.broker_id] if live else None,
    )


class RoutingSession(Session, Protocol):
    cluster: ClusterView


async def on_metadata(session: RoutingSession, frame: bf.Metadata) -> None:
    session.send(await session.cluster.describe(frame.topics, frame.corr))


METADATA_HANDLERS: HandlerTable = dict([handles(bf.Metadata, on_metadata)])
