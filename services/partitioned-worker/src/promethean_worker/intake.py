"""Where messages come from: one subscription per topic in the worker's group.

With a client that offers ``subscribe_partitioned`` (the broker's group
coordinator), each topic is a partitioned subscription: this instance owns
a subset of the partitions, handlers run one message at a time per
partition in offset order, and the assignment hooks keep the owned set,
the metrics and the handlers' ``on_assigned``/``on_revoked`` up to date.
Without it, each topic is an ordinary group subscription with one handler
runner (ordered per instance; the broker spreads the partitions' events
over the group's members).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from promethean.client.port import BusClient, PartitionedHandle, SubscriptionHandle
from promethean.client.types import SubscribeOptions
from promethean.frames.fields import StartKind
from promethean_worker.dispatch import Dispatcher
from promethean_worker.metrics import WorkerMetrics

log = logging.getLogger("promethean.worker")

PARTITIONED: Final = "subscribe_partitioned"


def supports_partitions(bus: BusClient) -> bool:
    """Every `BusClient` of this library does; a client that does not gets
    plain group subscriptions."""
    return callable(getattr(bus, PARTITIONED, None))


class TopicIntake:
    """One topic's subscription and what this instance owns of it."""

    def __init__(
        self, topic: str, group: str, dispatcher: Dispatcher, metrics: WorkerMetrics
    ) -> None:
        self.topic = topic
        self.group = group
        self._dispatcher = dispatcher
        self._metrics = metrics
        self.handle: PartitionedHandle | SubscriptionHandle | None = None
        self.owned: frozenset[int] = frozenset()
        self.rebalances = 0

    @property
    def generation(self) -> int | None:
        if isinstance(self.handle, PartitionedHandle):
            return self.handle.generation
        return None

    def _sync_owned(self, change: Iterable[int], gained: bool) -> None:
        if isinstance(self.handle, PartitionedHandle):
            self.owned = frozenset(self.handle.assigned)
        elif gained:
            self.owned = self.owned | frozenset(change)
        else:
            self.owned = self.owned - frozenset(change)
        self.rebalances += 1
        self._metrics.rebalances.labels(self.topic, self.group).inc()
        self._metrics.owned_partitions.labels(self.topic, self.group).set(len(self.owned))

    async def on_assigned(self, partitions: set[int]) -> None:
        gained = frozenset(partitions)
        self._sync_owned(gained, gained=True)
        log.info(
            "partitions assigned",
            extra={"topic": self.topic, "partitions": sorted(gained), "owned": len(self.owned)},
        )
        await self._dispatcher.assigned(self.topic, gained)

    async def on_revoked(self, partitions: set[int]) -> None:
        lost = frozenset(partitions)
        await self._dispatcher.revoked(self.topic, lost)
        self._sync_owned(lost, gained=False)
        log.info(
            "partitions revoked",
            extra={"topic": self.topic, "partitions": sorted(lost), "owned": len(self.owned)},
        )

    async def stop(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            await handle.stop()


class Intake:
    def __init__(
        self,
        bus: BusClient,
        group: str,
        instance_id: str,
        dispatcher: Dispatcher,
        metrics: WorkerMetrics,
        *,
        max_inflight: int,
        start: StartKind,
    ) -> None:
        self._bus = bus
        self._group = group
        self._instance_id = instance_id
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._max_inflight = max_inflight
        self._start = start
        self.topics: dict[str, TopicIntake] = {}
        self.partitioned = supports_partitions(bus)

    async def start(self, topics: Iterable[str]) -> None:
        for topic in topics:
            intake = TopicIntake(topic, self._group, self._dispatcher, self._metrics)
            self.topics[topic] = intake
            if self.partitioned:
                intake.handle = await self._bus.subscribe_partitioned(
                    topic,
                    self._group,
                    self._dispatcher,
                    instance_id=self._instance_id,
                    on_assigned=intake.on_assigned,
                    on_revoked=intake.on_revoked,
                )
            else:
                options = SubscribeOptions(start=self._start, max_inflight=self._max_inflight)
                intake.handle = await self._bus.subscribe(
                    topic, self._group, self._dispatcher, options=options, concurrency=1
                )
            log.info(
                "subscribed",
                extra={"topic": topic, "group": self._group, "partitioned": self.partitioned},
            )

    async def stop(self) -> None:
        """Stop intake on every topic: running handlers finish, the rest goes
        back to the group (and a partitioned member leaves it)."""
        for intake in self.topics.values():
            try:
                await intake.stop()
            except Exception as exc:
                log.warning("stopping a subscription failed", extra={"error": repr(exc)})

    def owned(self) -> dict[str, frozenset[int]]:
        return {topic: intake.owned for topic, intake in self.topics.items()}
