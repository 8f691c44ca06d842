"""`MemoryStore`: the `Store` port held in process memory.

For unit tests and the in-memory mock broker. Each instance is independent
(nothing is global) and pure asyncio: no threads, no sockets, no clock.

Every operation first yields to the event loop once, standing in for the
round trip a real store makes, so callers' concurrency is exercised as it
would be against SQLite or MongoDB. The operation itself then runs without
any further await, which makes it atomic: concurrent appends to a partition
are serialized and outbox claims never overlap without needing a lock.

Data survives ``close()`` and a later ``open()`` of the same instance, like
a database file survives a restart of its process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from promethean.errors import StoreUnavailableError
from promethean.store.memory.groups import CommitTable, MembershipTable
from promethean.store.memory.leases import LeaseTable
from promethean.store.memory.log import EventLog
from promethean.store.memory.outbox import OutboxTable
from promethean.store.memory.ownership import BrokerTable, OwnershipTable
from promethean.store.memory.schemas import SchemaRegistry
from promethean.store.memory.topics import TopicTable
from promethean.store.memory.views import ViewTable
from promethean.store.ownership_records import (
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)
from promethean.store.ownership_rules import commit_fences
from promethean.store.records import (
    AppendResult,
    CommittedOffset,
    Fence,
    GroupState,
    Lease,
    Member,
    NewEvent,
    NewOutboxRow,
    OutboxRow,
    OutboxStats,
    SchemaVersion,
    StoreCapabilities,
    StoredEvent,
    TopicConfig,
    ViewRow,
)

SCHEME = "memory://"
NOT_OPEN = "memory store {url!r} is not open"
BAD_URL = "a memory store URL starts with 'memory://', got {url!r}"

CAPABILITIES = StoreCapabilities(transactions=False, change_streams=False, detail="memory")


class MemoryStore:
    """The storage port in memory; ``memory://<name>``, the name only labels it."""

    def __init__(self, url: str = SCHEME) -> None:
        if not url.lower().startswith(SCHEME):
            raise ValueError(BAD_URL.format(url=url))
        self._url = url
        self._is_open = False
        self._log = EventLog()
        self._commits = CommitTable()
        self._membership = MembershipTable()
        self._leases = LeaseTable()
        self._brokers = BrokerTable()
        self._ownership = OwnershipTable()
        self._topics = TopicTable()
        self._outbox = OutboxTable()
        self._schemas = SchemaRegistry()
        self._views = ViewTable()

    def __repr__(self) -> str:
        return f"MemoryStore({self._url!r})"

    @property
    def url(self) -> str:
        return self._url

    @property
    def capabilities(self) -> StoreCapabilities:
        return CAPABILITIES

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False

    async def ping(self) -> None:
        await self._turn()

    async def _turn(self) -> None:
        """Yield to the loop like a round trip, then refuse if closed."""
        await asyncio.sleep(0)
        if not self._is_open:
            raise StoreUnavailableError(NOT_OPEN.format(url=self._url))

    # -- log ---------------------------------------------------------------

    async def append(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        *,
        fence: Fence | None = None,
    ) -> list[AppendResult]:
        await self._turn()
        if fence is not None:
            self._leases.check_fence(fence)
        return self._log.append(topic, partition, events)

    async def append_many(
        self,
        batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
        *,
        fence: Fence | None = None,
    ) -> list[list[AppendResult]]:
        await self._turn()
        if fence is not None:
            self._leases.check_fence(fence)
        return [self._log.append(topic, partition, events) for topic, partition, events in batches]

    async def read(
        self,
        topic: str,
        partition: int,
        from_offset: int,
        limit: int,
        *,
        to_offset: int | None = None,
        key: str | None = None,
        header: tuple[str, str] | None = None,
    ) -> list[StoredEvent]:
        await self._turn()
        return self._log.read(topic, partition, from_offset, limit, to_offset, key, header)

    # -- admin -------------------------------------------------------------

    async def reset_commits(
        self, group: str, topic: str, offsets: dict[int, int]
    ) -> dict[int, CommittedOffset]:
        await self._turn()
        return self._commits.reset(group, topic, offsets)

    async def delete_group(self, group: str, topic: str) -> bool:
        await self._turn()
        return self._commits.delete(group, topic)

    async def delete_topic(self, topic: str) -> bool:
        await self._turn()
        existed = self._topics.delete(topic)
        self._log.drop(topic)
        self._commits.delete_topic(topic)
        return existed

    async def offset_for_timestamp(self, topic: str, partition: int, ts_ms: int) -> int:
        await self._turn()
        return self._log.offset_for_timestamp(topic, partition, ts_ms)

    async def latest_offset(self, topic: str, partition: int) -> int:
        await self._turn()
        return self._log.latest_offset(topic, partition)

    async def earliest_offset(self, topic: str, partition: int) -> int:
        await self._turn()
        return self._log.earliest_offset(topic, partition)

    async def find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        await self._turn()
        return self._log.find_ids(topic, ids)

    async def latest_by_key(self, topic: str, key: str) -> StoredEvent | None:
        await self._turn()
        return self._log.latest_by_key(topic, key)

    # -- maintenance -------------------------------------------------------

    async def compact_partition(self, topic: str, partition: int, below_offset: int) -> int:
        await self._turn()
        return self._log.compact(topic, partition, below_offset)

    async def delete_tombstones(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int
    ) -> int:
        await self._turn()
        return self._log.delete_tombstones(topic, partition, below_offset, ts_before_ms)

    async def delete_below(
        self, topic: str, partition: int, below_offset: int, *, ts_before_ms: int | None = None
    ) -> int:
        await self._turn()
        return self._log.delete_below(topic, partition, below_offset, ts_before_ms)

    async def count_events(self, topic: str, partition: int | None = None) -> int:
        await self._turn()
        return self._log.count_events(topic, partition)

    async def stats(self) -> dict[str, int]:
        await self._turn()
        return {
            "events": self._log.total_events(),
            "counters": self._log.partition_count(),
            "group_offsets": self._commits.commit_rows(),
            "delivery_attempts": self._commits.attempt_rows(),
            "group_members": self._membership.member_rows(),
            "group_state": self._membership.state_rows(),
            "topic_configs": len(self._topics),
            "outbox": len(self._outbox),
            "leases": len(self._leases),
            "brokers": len(self._brokers),
            "partition_owners": len(self._ownership),
            "schemas": len(self._schemas),
            "views": len(self._views),
        }

    # -- groups ------------------------------------------------------------

    async def get_commits(self, group: str, topic: str) -> dict[int, CommittedOffset]:
        await self._turn()
        return self._commits.get(group, topic)

    async def commit(
        self, group: str, topic: str, offsets: dict[int, int], *, generation: int = 0
    ) -> dict[int, CommittedOffset]:
        await self._turn()
        return self._commits.commit(group, topic, offsets, generation)

    async def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        await self._turn()
        return self._commits.add_attempts(group, topic, partition, offsets)

    async def get_attempts(
        self, group: str, topic: str, partition: int, from_offset: int
    ) -> dict[int, int]:
        await self._turn()
        return self._commits.get_attempts(group, topic, partition, from_offset)

    async def clear_attempts(self, group: str, topic: str, partition: int, up_to: int) -> None:
        await self._turn()
        self._commits.clear_attempts(group, topic, partition, up_to)

    async def groups_for_topic(self, topic: str) -> list[str]:
        await self._turn()
        return self._commits.groups_for_topic(topic)

    async def upsert_member(self, member: Member) -> None:
        await self._turn()
        self._membership.upsert_member(member)

    async def remove_member(self, group: str, member_id: str) -> bool:
        await self._turn()
        return self._membership.remove_member(group, member_id)

    async def list_members(self, group: str) -> list[Member]:
        await self._turn()
        return self._membership.list_members(group)

    async def get_group_state(self, group: str) -> GroupState | None:
        await self._turn()
        return self._membership.get_state(group)

    async def put_group_state(self, state: GroupState, *, expected_generation: int | None) -> bool:
        await self._turn()
        return self._membership.put_state(state, expected_generation)

    # -- leases ------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        await self._turn()
        return self._leases.acquire(name, holder, ttl_ms, now_ms)

    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        await self._turn()
        return self._leases.renew(name, holder, token, ttl_ms, now_ms)

    async def release_lease(self, name: str, holder: str, token: int) -> bool:
        await self._turn()
        return self._leases.release(name, holder, token)

    async def get_lease(self, name: str) -> Lease | None:
        await self._turn()
        return self._leases.get(name)

    # -- brokers and partition ownership -----------------------------------

    async def register_broker(
        self, broker_id: str, address: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord:
        await self._turn()
        return self._brokers.register(broker_id, address, ttl_ms, now_ms)

    async def heartbeat_broker(
        self, broker_id: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord | None:
        await self._turn()
        return self._brokers.heartbeat(broker_id, ttl_ms, now_ms)

    async def deregister_broker(self, broker_id: str) -> bool:
        await self._turn()
        return self._brokers.deregister(broker_id)

    async def list_brokers(self, now_ms: int) -> list[BrokerRecord]:
        await self._turn()
        return self._brokers.live(now_ms)

    async def acquire_partition(
        self, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        await self._turn()
        return self._ownership.acquire(topic, partition, broker_id, ttl_ms, now_ms)

    async def renew_partition(
        self, topic: str, partition: int, broker_id: str, token: int, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        await self._turn()
        return self._ownership.renew(topic, partition, broker_id, token, ttl_ms, now_ms)

    async def release_partition(
        self, topic: str, partition: int, broker_id: str, token: int
    ) -> bool:
        await self._turn()
        return self._ownership.release(topic, partition, broker_id, token)

    async def list_partition_owners(self, topic: str | None = None) -> list[PartitionOwner]:
        await self._turn()
        return self._ownership.owners(topic)

    async def ownership_log(self, topic: str, partition: int) -> list[OwnershipGrant]:
        await self._turn()
        return self._ownership.log(topic, partition)

    async def append_owned(
        self, batches: Sequence[tuple[PartitionFence, Sequence[NewEvent]]]
    ) -> list[list[AppendResult]]:
        await self._turn()
        self._ownership.check(fence for fence, _ in batches)
        return [
            self._log.append(fence.topic, fence.partition, events, fence.token)
            for fence, events in batches
        ]

    async def commit_owned(
        self,
        group: str,
        topic: str,
        offsets: dict[int, int],
        *,
        tokens: Mapping[int, int],
        generation: int = 0,
    ) -> dict[int, CommittedOffset]:
        await self._turn()
        self._ownership.check(commit_fences(group, topic, offsets, tokens))
        return self._commits.commit(group, topic, offsets, generation)

    async def fence_tokens(
        self, topic: str, partition: int, from_offset: int, limit: int
    ) -> list[tuple[int, int | None]]:
        await self._turn()
        return self._log.fence_tokens(topic, partition, from_offset, limit)

    # -- topics ------------------------------------------------------------

    async def create_topic(self, config: TopicConfig) -> TopicConfig:
        await self._turn()
        return self._topics.create(config)

    async def put_topic_config(self, config: TopicConfig) -> TopicConfig:
        await self._turn()
        return self._topics.put(config)

    async def get_topic_config(self, name: str) -> TopicConfig | None:
        await self._turn()
        return self._topics.get(name)

    async def list_topics(self) -> list[TopicConfig]:
        await self._turn()
        return self._topics.list()

    # -- outbox ------------------------------------------------------------

    async def outbox_insert(self, rows: Sequence[NewOutboxRow]) -> None:
        await self._turn()
        self._outbox.insert(rows)

    async def outbox_claim(
        self, claimer: str, limit: int, lease_ms: int, now_ms: int
    ) -> list[OutboxRow]:
        await self._turn()
        return self._outbox.claim(claimer, limit, lease_ms, now_ms)

    async def outbox_mark_published(self, claimer: str, ids: Sequence[str], now_ms: int) -> int:
        await self._turn()
        return self._outbox.mark_published(claimer, ids, now_ms)

    async def outbox_mark_retry(
        self, claimer: str, row_id: str, error: str, next_attempt_ms: int
    ) -> bool:
        await self._turn()
        return self._outbox.mark_retry(claimer, row_id, error, next_attempt_ms)

    async def outbox_mark_failed(self, claimer: str, row_id: str, error: str) -> bool:
        await self._turn()
        return self._outbox.mark_failed(claimer, row_id, error)

    async def outbox_get(self, row_id: str) -> OutboxRow | None:
        await self._turn()
        return self._outbox.get(row_id)

    async def outbox_purge(self, published_before_ms: int) -> int:
        await self._turn()
        return self._outbox.purge(published_before_ms)

    async def outbox_stats(self, now_ms: int) -> OutboxStats:
        await self._turn()
        return self._outbox.stats(now_ms)

    # -- schemas and views -------------------------------------------------

    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        await self._turn()
        return self._schemas.put(subject, schema)

    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        await self._turn()
        return self._schemas.get(subject, version)

    async def list_schema_versions(self, subject: str) -> list[SchemaVersion]:
        await self._turn()
        return self._schemas.versions(subject)

    async def list_schema_subjects(self) -> list[str]:
        await self._turn()
        return self._schemas.subjects()

    async def get_schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        await self._turn()
        return self._schemas.by_id(schema_id)

    async def delete_schema_version(self, subject: str, version: int, *, permanent: bool) -> bool:
        await self._turn()
        return self._schemas.delete(subject, version, permanent)

    async def get_schema_config(self, subject: str) -> str | None:
        await self._turn()
        return self._schemas.get_config(subject)

    async def put_schema_config(self, subject: str, compatibility: str | None) -> None:
        await self._turn()
        self._schemas.put_config(subject, compatibility)

    async def view_upsert(self, view: str, key: str, value: Any, offset: int) -> bool:
        await self._turn()
        return self._views.upsert(view, key, value, offset)

    async def view_delete(self, view: str, key: str, offset: int) -> bool:
        await self._turn()
        return self._views.delete(view, key, offset)

    async def view_get(self, view: str, key: str) -> ViewRow | None:
        await self._turn()
        return self._views.get(view, key)

    async def view_list(self, view: str, limit: int = 1000) -> list[ViewRow]:
        await self._turn()
        return self._views.list(view, limit)
