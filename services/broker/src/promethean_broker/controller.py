"""The controller role: whichever broker holds the ``controller`` lease
spreads the partitions of every topic over the live brokers and publishes
the result as the target (promethean_broker/target.py). It moves nothing
itself: each broker's ownership loop (promethean_broker/ownership.py)
releases what the target takes away and acquires what it gives, so the
handoff is cooperative. Any broker can take the role; one that loses the
lease stops publishing, and the epoch keeps its late writes out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from promethean.broker_assignment import Ownership, TopicPartition, plan_moves, spread_partitions
from promethean.errors import StoreError
from promethean.runtime.leadership import Leadership
from promethean.store.port import Store
from promethean_broker.seat import ClusterSeat
from promethean_broker.target import Target, publish_target, read_target

log = logging.getLogger("promethean.broker.controller")

CONTROLLER_LEASE: Final = "controller"
"""The store lease of the controller role (not a write fence: every broker writes)."""


async def plan_target(store: Store, previous: Target, now_ms: int) -> tuple[Ownership, list[str]]:
    """The spread the cluster should have now, and the live brokers: balanced
    over them, sticky to ``previous`` and, for partitions it does not place,
    to their live owners (a broker may take a new topic's partition on its
    first publish)."""
    brokers = [b.broker_id for b in await store.list_brokers(now_ms)]
    counts = {t.name: t.partitions for t in await store.list_topics()}
    current: dict[TopicPartition, str] = {
        (o.topic, o.partition): o.broker_id
        for o in await store.list_partition_owners()
        if o.live(now_ms)
    }
    current.update(previous.owners)
    return spread_partitions(brokers, counts, current), brokers


class Controller:
    def __init__(self, seat: ClusterSeat) -> None:
        self._store = seat.store
        self._now_ms = seat.now_ms
        self._health = seat.health
        self.leadership = Leadership(
            seat.store,
            CONTROLLER_LEASE,
            seat.broker_id,
            seat.ttl_ms,
            seat.now_ms,
            health=seat.health,
        )
        self.published = 0
        """Targets this broker published (for tests and logs)."""

    async def step(self) -> Target | None:
        """One pass: take or keep the role, and publish a new target when
        the spread changed. The published target, or None."""
        with contextlib.suppress(Exception):  # reported by the leadership
            await self.leadership.step()
        if self.leadership.lease is None:
            return None
        previous = await read_target(self._store)
        owners, brokers = await plan_target(self._store, previous, self._now_ms())
        if owners == previous.owners and frozenset(brokers) == previous.brokers:
            return None
        target = Target(previous.next_epoch(self.leadership.token), owners, frozenset(brokers))
        if not await publish_target(self._store, target):
            return None
        self.published += 1
        live = set(owners.values())
        steps = plan_moves(previous.owners, owners, live)
        log.info(
            "ownership target published",
            extra={"epoch": target.epoch, "partitions": len(owners), "moves": len(steps)},
        )
        return target

    async def run(self, every_s: float) -> None:
        while True:
            try:
                await self.step()
            except StoreError as exc:
                if self._health is not None:
                    self._health.failed(f"controller: {exc}")
            except Exception:
                log.exception("controller pass failed")
            await asyncio.sleep(every_s)

    async def resign(self) -> None:
        with contextlib.suppress(Exception):
            await self.leadership.release()
