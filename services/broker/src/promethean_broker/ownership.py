"""The partitions this broker owns, under which fencing token, and the loop
that follows the controller's target.

Each pass: release what the target gives another broker (stop accepting
for it, let the group commit write what is queued, persist commits, then
`release_partition`), renew every grant held a third of the TTL ago (a
grant the store will not renew is dropped at once), and acquire what the target gives this broker
once it is free, released or expired (token + 1). A partition the target
does not place yet (a topic created a moment ago) is acquired on its first
publish, so one broker owns every partition without waiting for a pass.

`PartitionOwnership` is the engine's `PartitionGrants`: the engine writes a
partition only while it is held here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Final, Protocol

from promethean.broker_assignment import TopicPartition
from promethean.bus.locks import KeyedLocks
from promethean.errors import NotOwnerError, StoreError
from promethean_broker.seat import ClusterSeat
from promethean_broker.target import Target, read_target

log = logging.getLogger("promethean.broker.ownership")

RELEASE_FLUSH_S: Final = 2.0
"""How long a release waits for the partition's queued publishes to be written."""
MSG_OWNED_BY: Final = "partition {partition} of {topic!r} is owned by {owner}"
MSG_MOVING: Final = "partition {partition} of {topic!r} is moving; ask METADATA again"


class PartitionWriters(Protocol):
    """What a release needs of the engine."""

    async def quiesce(self, topic: str, partition: int, timeout_s: float) -> bool: ...

    async def adopt_partition(self, topic: str, partition: int) -> None: ...

    def forget_partition(self, topic: str, partition: int) -> None: ...


class PartitionOwnership:
    def __init__(self, seat: ClusterSeat) -> None:
        self._store = seat.store
        self._health = seat.health
        self.broker_id = seat.broker_id
        self.ttl_ms = seat.ttl_ms
        self._now_ms = seat.now_ms
        self._held: dict[TopicPartition, int] = {}
        self._renewed_at: dict[TopicPartition, int] = {}
        """When each grant was last taken or renewed (ms): a pass renews only
        those a third of the TTL old, so an idle broker writes a few grants
        a second, not every grant twice a second."""
        self._releasing: set[TopicPartition] = set()
        self._suspect: set[TopicPartition] = set()
        self._acquiring: KeyedLocks[TopicPartition] = KeyedLocks()
        self._claiming: Counter[TopicPartition] = Counter()
        self.target = Target()
        self.writers: PartitionWriters | None = None
        self.wake = asyncio.Event()
        """Set to run the next pass at once (a write was fenced)."""
        self.settled = asyncio.Event()
        """Set once this broker holds its share: there is no target yet, or
        the target counts this broker and every partition it gives it is
        held. A broker restarted under a new id waits here while its old
        grants expire, as a standby once waited for the lease."""

    @property
    def every_s(self) -> float:
        return min(0.5, self.ttl_ms / 4000)

    def held(self) -> dict[TopicPartition, int]:
        """(topic, partition) → token of every grant held now."""
        return dict(self._held)

    # -- PartitionGrants ----------------------------------------------------

    def admits(self, topic: str, partition: int) -> bool:
        """Held, not moving, and no claim of it still waiting: a publish
        that arrives while earlier ones wait for the grant queues behind
        them (through `claim`), so a partition keeps the publishes' order."""
        tp = (topic, partition)
        return (
            tp in self._held
            and tp not in self._releasing
            and tp not in self._suspect
            and tp not in self._claiming
        )

    def writable(self, topic: str) -> list[int]:
        return sorted(p for t, p in self._held if t == topic and self.admits(t, p))

    def token(self, topic: str, partition: int) -> int | None:
        tp = (topic, partition)
        return None if tp in self._suspect else self._held.get(tp)

    async def claim(self, topic: str, partition: int) -> int:
        tp = (topic, partition)
        if self.admits(topic, partition):
            return self._held[tp]
        planned = self.target.owners.get(tp)
        elsewhere = planned is not None and planned != self.broker_id
        if elsewhere or tp in self._releasing or tp in self._suspect:
            raise await self.not_owner(topic, partition)
        self._claiming[tp] += 1
        try:
            token = await self._acquire(tp)
        finally:
            self._claiming[tp] -= 1
            if not self._claiming[tp]:
                del self._claiming[tp]
        if token is None:
            raise await self.not_owner(topic, partition)
        return token

    def fenced(self, partitions: Iterable[TopicPartition]) -> None:
        self._suspect.update(tp for tp in partitions if tp in self._held)
        self.wake.set()

    async def not_owner(self, topic: str, partition: int) -> NotOwnerError:
        """The refusal of a request for a partition held elsewhere, naming the
        owner the store knows (none while the partition moves)."""
        now = self._now_ms()
        for owner in await self._store.list_partition_owners(topic):
            if owner.partition != partition or not owner.live(now):
                continue
            if owner.broker_id == self.broker_id:
                break
            address = await self._address_of(owner.broker_id, now)
            if address is None:
                break
            return NotOwnerError(
                MSG_OWNED_BY.format(topic=topic, partition=partition, owner=owner.broker_id),
                owner_id=owner.broker_id,
                owner_address=address,
                epoch=owner.token,
            )
        return NotOwnerError(MSG_MOVING.format(topic=topic, partition=partition))

    async def _address_of(self, broker_id: str, now_ms: int) -> str | None:
        for broker in await self._store.list_brokers(now_ms):
            if broker.broker_id == broker_id:
                return broker.address
        return None

    # -- the loop -----------------------------------------------------------

    async def step(self) -> None:
        """One pass over the target: releases, renewals, acquires."""
        self.target = await read_target(self._store)
        mine = self.broker_id
        for tp in list(self._held):
            planned = self.target.owners.get(tp)
            if planned is not None and planned != mine:
                await self._release(tp)
        due = self._now_ms() - self.ttl_ms // 3
        for tp in list(self._held):
            if tp in self._suspect or self._renewed_at.get(tp, 0) <= due:
                await self._renew(tp)
        missing = 0
        for tp, broker in sorted(self.target.owners.items()):
            if broker == mine and tp not in self._held and await self._acquire(tp) is None:
                missing += 1
        if self.target.epoch == 0 or (mine in self.target.brokers and not missing):
            self.settled.set()

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except StoreError as exc:
                # Grants are kept and tried again; their writes stay fenced.
                if self._health is not None:
                    self._health.failed(f"ownership: {exc}")
            except Exception:
                log.exception("ownership pass failed")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.every_s)

    async def release_all(self) -> None:
        """Give every partition up (graceful shutdown), so the next owner
        takes them at once instead of after the TTL."""
        for tp in list(self._held):
            await self._release(tp)

    # -- transitions --------------------------------------------------------

    async def _acquire(self, tp: TopicPartition) -> int | None:
        """Take the grant if it is free (one acquire per partition at a
        time, so the engine adopts it once); its token, or None."""
        async with self._acquiring.hold(tp):
            held = self._held.get(tp)
            if held is not None:
                return held
            now = self._now_ms()
            grant = await self._store.acquire_partition(
                tp[0], tp[1], self.broker_id, self.ttl_ms, now
            )
            if grant is None:
                return None
            if grant.expires_at_ms < now + self.ttl_ms:
                # Our own grant still live from before a restart under the
                # same id comes back unchanged, expiring soon: renew it now,
                # before a pass comes too late and a new token fences the
                # writes already queued under this one.
                grant = (
                    await self._store.renew_partition(
                        tp[0], tp[1], self.broker_id, grant.token, self.ttl_ms, now
                    )
                    or grant
                )
            if self.writers is not None:
                await self.writers.adopt_partition(*tp)
            self._held[tp] = grant.token
            self._renewed_at[tp] = now
        log.info(
            "partition acquired", extra={"topic": tp[0], "partition": tp[1], "token": grant.token}
        )
        return grant.token

    def _drop(self, tp: TopicPartition, why: str) -> None:
        token = self._held.pop(tp, None)
        self._renewed_at.pop(tp, None)
        self._releasing.discard(tp)
        self._suspect.discard(tp)
        if self.writers is not None:
            self.writers.forget_partition(*tp)
        log.info(why, extra={"topic": tp[0], "partition": tp[1], "token": token})

    async def _renew(self, tp: TopicPartition) -> None:
        token = self._held.get(tp)
        if token is None:
            return
        now = self._now_ms()
        grant = await self._store.renew_partition(
            tp[0], tp[1], self.broker_id, token, self.ttl_ms, now
        )
        if grant is None and tp not in self._releasing:
            # Renewed too late (a slow pass): when nobody took the partition
            # meanwhile, the next token is ours and nothing else was written,
            # so the writer and the groups' cursors stay as they are.
            grant = await self._store.acquire_partition(
                tp[0], tp[1], self.broker_id, self.ttl_ms, now
            )
            if grant is not None and grant.token != token + 1:
                await self._store.release_partition(tp[0], tp[1], self.broker_id, grant.token)
                grant = None
        if grant is None:
            self._drop(tp, "partition lost: the store refused the renewal")
        else:
            self._held[tp] = grant.token
            self._renewed_at[tp] = now
            self._suspect.discard(tp)

    async def _release(self, tp: TopicPartition) -> None:
        token = self._held.get(tp)
        if token is None:
            return
        self._releasing.add(tp)
        if self.writers is not None:
            await self.writers.quiesce(tp[0], tp[1], RELEASE_FLUSH_S)
        await self._store.release_partition(tp[0], tp[1], self.broker_id, token)
        self._drop(tp, "partition released")
