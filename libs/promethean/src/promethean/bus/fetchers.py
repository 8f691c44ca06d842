"""Members of partitioned groups fetching from a partition's owner.

With several brokers a member's coordinator (docs/decisions.md, "Partitioned
groups fetch from each partition's owner") delivers only the partitions its
own broker owns. For the others the member sends ``FETCH`` to their owner,
which checks it against the group's membership as the coordinator persisted
it (before it sent the ``ASSIGNMENT``) and keeps one engine subscription per
connection, group and topic narrowed to the fetched partitions. This module
holds those fetches on the owner: which connection fetches which partition
in which generation, and whether an ack of that connection may settle it.

At most one fetcher holds a partition of a group: a fetch of a newer
generation takes it from an older one, whose in-flight events of that
partition go back for redelivery without counting an attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from promethean.bus.engine import BusEngine
from promethean.bus.subscription import Consumer, StartKind, StartPosition, Subscription
from promethean.errors import FrameError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean.store.records import Member as MemberRecord

MSG_NO_MEMBER: Final = "{member} is not a member of {group}; JOIN at its coordinator again"
MSG_OLD_FETCH: Final = "FETCH of generation {got} for {group}; the member is at {need}"
MSG_NOT_ASSIGNED: Final = "{member} is not assigned {topic}/{partition} in {group}"
MSG_NOT_FETCHING: Final = "this connection does not fetch {topic}/{partition} for {group}"
MSG_OLD_SETTLE: Final = "generation {got} is older than the fetch's {need} for {group}"


def _stale(msg: str) -> FrameError:
    return FrameError(msg, code=ErrorCode.STALE_GENERATION)


@dataclass(eq=False)
class Fetch:
    """One connection's fetch of a group's topic."""

    consumer_id: str
    group: str
    topic: str
    member_id: str
    generation: int
    sub: Subscription
    partitions: set[int] = field(default_factory=set)


def check_assigned(record: MemberRecord | None, request: bf.Fetch, kept: set[int]) -> None:
    """Raise ``stale_generation`` unless the stored membership gives the
    member every partition it asks for in the request's generation or an
    older one. Partitions it already fetches (``kept``) may still be being
    revoked; new ones must be owned."""
    if record is None:
        raise _stale(MSG_NO_MEMBER.format(member=request.member_id, group=request.group))
    if request.generation < record.generation:
        raise _stale(
            MSG_OLD_FETCH.format(
                got=request.generation, need=record.generation, group=request.group
            )
        )
    owned = set(record.data.get("owned", {}).get(request.topic, ()))
    revoking = set(record.data.get("revoking", {}).get(request.topic, ()))
    for partition in sorted(request.partitions):
        allowed = owned | revoking if partition in kept else owned
        if partition not in allowed:
            raise _stale(
                MSG_NOT_ASSIGNED.format(
                    member=request.member_id,
                    topic=request.topic,
                    partition=partition,
                    group=request.group,
                )
            )


class Fetchers:
    """The fetches this broker serves, by connection and by partition."""

    def __init__(self, engine: BusEngine) -> None:
        self.engine = engine
        self._by_link: dict[tuple[str, str, str], Fetch] = {}
        """(consumer id, group, topic) → its fetch."""
        self._holders: dict[tuple[str, str, int], Fetch] = {}
        """(group, topic, partition) → the fetch that holds it."""

    def fetch_of(self, consumer_id: str, group: str, topic: str) -> Fetch | None:
        fetch = self._by_link.get((consumer_id, group, topic))
        return fetch if fetch is not None and fetch.sub.active else None

    async def place(self, consumer: Consumer, request: bf.Fetch) -> None:
        """Serve ``request`` on ``consumer`` (checked by the caller): widen,
        narrow or end its subscription, taking partitions from older fetchers."""
        partitions = frozenset(request.partitions)
        key = (consumer.consumer_id, request.group, request.topic)
        fetch = self.fetch_of(*key)
        if fetch is not None and request.generation < fetch.generation:
            raise _stale(
                MSG_OLD_FETCH.format(
                    got=request.generation, need=fetch.generation, group=request.group
                )
            )
        if not partitions:
            if fetch is not None:
                await self._end(fetch)
            return
        for partition in partitions:
            await self._take(request, partition, consumer.consumer_id)
        if fetch is None:
            sub, _ = await self.engine.subscribe(
                consumer,
                request.topic,
                request.group,
                start=StartPosition(StartKind.EARLIEST),
                max_inflight=request.max_inflight,
                ack_timeout_ms=request.ack_timeout_ms,
                partitions=partitions,
                generation=request.generation,
            )
            fetch = Fetch(
                consumer.consumer_id,
                request.group,
                request.topic,
                request.member_id,
                request.generation,
                sub,
            )
            self._by_link[key] = fetch
        dropped = fetch.partitions - partitions
        fetch.member_id = request.member_id
        fetch.generation = request.generation
        fetch.partitions = set(partitions)
        fetch.sub.partitions = partitions
        fetch.sub.generation = request.generation
        for partition in fetch.partitions:
            self._holders[(request.group, request.topic, partition)] = fetch
        await self._let_go(fetch, dropped)
        state = self.engine.group(request.group, request.topic)
        if state is not None:
            state.generation = max(state.generation, request.generation)
            state.wake()

    async def _take(self, request: bf.Fetch, partition: int, consumer_id: str) -> None:
        """Take ``partition`` from another fetcher of an older or equal generation."""
        holder = self._holders.get((request.group, request.topic, partition))
        if holder is None or holder.consumer_id == consumer_id or not holder.sub.active:
            return
        if holder.generation > request.generation:
            raise _stale(
                MSG_OLD_FETCH.format(
                    got=request.generation, need=holder.generation, group=request.group
                )
            )
        holder.partitions.discard(partition)
        holder.sub.partitions = frozenset(holder.partitions)
        await self.engine.release_partitions(holder.sub, frozenset({partition}))

    async def _let_go(self, fetch: Fetch, partitions: set[int]) -> None:
        for partition in partitions:
            key = (fetch.group, fetch.topic, partition)
            if self._holders.get(key) is fetch:
                del self._holders[key]
        if partitions:
            await self.engine.release_partitions(fetch.sub, frozenset(partitions))

    async def _end(self, fetch: Fetch) -> None:
        await self._let_go(fetch, set(fetch.partitions))
        fetch.partitions.clear()
        self._by_link.pop((fetch.consumer_id, fetch.group, fetch.topic), None)
        await self.engine.unsubscribe(fetch.consumer_id, fetch.topic, fetch.group)

    def link_lost(self, consumer_id: str) -> None:
        """Forget the connection's fetches (the engine already took its
        subscriptions back)."""
        for key in [k for k in self._by_link if k[0] == consumer_id]:
            fetch = self._by_link.pop(key)
            for partition in fetch.partitions:
                holder_key = (fetch.group, fetch.topic, partition)
                if self._holders.get(holder_key) is fetch:
                    del self._holders[holder_key]

    def check_settle(
        self, fetch: Fetch, topic: str, group: str, partition: int, generation: int | None
    ) -> None:
        """Raise ``stale_generation`` unless ``fetch`` still holds the
        partition and the settle is of its generation or newer."""
        if partition not in fetch.partitions:
            raise _stale(MSG_NOT_FETCHING.format(topic=topic, partition=partition, group=group))
        if generation is not None and generation < fetch.generation:
            raise _stale(MSG_OLD_SETTLE.format(got=generation, need=fetch.generation, group=group))
