"""The storage port: one Protocol per concern, composed into `Store`.

Every adapter (memory, SQLite, MongoDB) passes the same contract suite in
``tests/contract/store``. Semantics that every adapter must honour are stated
here, on the method; the contract suite is their executable form.

Conventions:
- times are integer milliseconds since the epoch, passed in by the caller
  (``now_ms``) wherever expiry matters, so tests can drive the clock;
- offsets start at 0 and are dense per (topic, partition) as appended;
  compaction and retention may later remove some (readers skip gaps);
- no argument is ever interpreted as a query operator: names are plain
  strings, matched by equality only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from promethean.store.ownership_records import (
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)
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


class LogStore(Protocol):
    async def append(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        *,
        fence: Fence | None = None,
    ) -> list[AppendResult]:
        """Append ``events`` to one partition in one durable write, in order.

        Returns one result per input event, in input order. New events get
        the next dense offsets. An id already stored for ``topic`` (in any
        partition), or repeated earlier in the same batch, stores nothing and
        returns the original position with ``duplicate=True``. With ``fence``,
        the write is refused with `FencedError` unless the lease ``fence.name``
        currently carries ``fence.token``. Concurrent calls for the same
        partition are serialized; offsets never collide or skip.
        """
        ...

    async def append_many(
        self,
        batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
        *,
        fence: Fence | None = None,
    ) -> list[list[AppendResult]]:
        """Several partitions' appends, as if by `append` one after another,
        in as few durable writes as the store allows (SQLite: one
        transaction). Returns one result list per batch. A fence refusal
        refuses every batch. An id appended by an earlier batch of the same
        call is a duplicate in a later one."""
        ...

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
        """Events with ``from_offset <= offset`` (``<= to_offset`` if given),
        ascending, at most ``limit``; optionally only those with this key or
        this header name/value."""
        ...

    async def offset_for_timestamp(self, topic: str, partition: int, ts_ms: int) -> int:
        """The first offset whose ``ts >= ts_ms``; ``latest + 1`` when none."""
        ...

    async def latest_offset(self, topic: str, partition: int) -> int:
        """The highest offset ever appended (survives deletion); -1 if none."""
        ...

    async def earliest_offset(self, topic: str, partition: int) -> int:
        """The lowest offset still stored; ``latest + 1`` when the partition is empty."""
        ...

    async def find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Stored ids of ``topic`` among ``ids`` → (partition, offset)."""
        ...

    async def latest_by_key(self, topic: str, key: str) -> StoredEvent | None:
        """The event with the highest offset carrying ``key`` (across partitions
        the key maps to one, but the store does not assume it)."""
        ...


class MaintenanceStore(Protocol):
    """Compaction and retention primitives for the compactor."""

    async def compact_partition(self, topic: str, partition: int, below_offset: int) -> int:
        """For offsets ``< below_offset``, keep only the highest offset of each
        key; events without a key are kept. Returns how many were removed."""
        ...

    async def delete_tombstones(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int
    ) -> int:
        """Remove tombstones (payload ``null``) with ``offset < below_offset``
        and ``ts < ts_before_ms`` that are the latest event of their key."""
        ...

    async def delete_below(
        self, topic: str, partition: int, below_offset: int, *, ts_before_ms: int | None = None
    ) -> int:
        """Retention: remove events with ``offset < below_offset`` (and, if
        given, ``ts < ts_before_ms``). Latest/next offsets are unaffected."""
        ...

    async def count_events(self, topic: str, partition: int | None = None) -> int: ...

    async def stats(self) -> dict[str, int]:
        """Row counts per collection/table, for ``GET /stats``."""
        ...


class GroupStore(Protocol):
    async def get_commits(self, group: str, topic: str) -> dict[int, CommittedOffset]:
        """Committed offsets of ``group`` on ``topic`` by partition."""
        ...

    async def commit(
        self, group: str, topic: str, offsets: dict[int, int], *, generation: int = 0
    ) -> dict[int, CommittedOffset]:
        """Compare-and-set commit of partition → offset, one durable write.

        Raises `StaleGenerationError` (and changes nothing) when any target row
        holds a generation newer than ``generation``. An offset lower than the
        stored one leaves the stored one (commits never move backwards). A
        newer generation replaces the stored one. Returns the resulting rows.
        """
        ...

    async def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        """Durably count one more delivery attempt for each offset; returns the
        new totals."""
        ...

    async def get_attempts(
        self, group: str, topic: str, partition: int, from_offset: int
    ) -> dict[int, int]:
        """Recorded attempts for offsets ``>= from_offset``."""
        ...

    async def clear_attempts(self, group: str, topic: str, partition: int, up_to: int) -> None:
        """Forget attempt counters for offsets ``<= up_to`` (they are committed)."""
        ...

    async def groups_for_topic(self, topic: str) -> list[str]:
        """Groups holding a commit on ``topic``."""
        ...

    async def upsert_member(self, member: Member) -> None: ...

    async def remove_member(self, group: str, member_id: str) -> bool: ...

    async def list_members(self, group: str) -> list[Member]: ...

    async def get_group_state(self, group: str) -> GroupState | None: ...

    async def put_group_state(self, state: GroupState, *, expected_generation: int | None) -> bool:
        """Store ``state`` if the stored generation equals ``expected_generation``
        (``None``: only if no state exists yet). False when the CAS lost."""
        ...


class AdminStore(Protocol):
    """Operator actions on groups and topics (the broker's admin API refuses
    them while the group or topic has live consumers)."""

    async def reset_commits(
        self, group: str, topic: str, offsets: dict[int, int]
    ) -> dict[int, CommittedOffset]:
        """Set ``group``'s committed offset of each partition to the given
        one, backwards too (a rewind), keeping the stored generation, and
        forget the attempt counters of those partitions. Returns the rows."""
        ...

    async def delete_group(self, group: str, topic: str) -> bool:
        """Remove ``group``'s commits and attempt counters on ``topic``; True
        when there was anything to remove."""
        ...

    async def delete_topic(self, topic: str) -> bool:
        """Remove the topic: its events, offset counters (a topic created
        again starts at offset 0), config, and every group's commits and
        attempt counters on it. True when the topic existed."""
        ...


class LeaseStore(Protocol):
    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        """Take ``name`` if it is free, expired, or already held by ``holder``.

        A new holder gets ``token = previous token + 1`` (1 for a new lease);
        the same holder keeps its token and extends the expiry. None while
        another holder's lease is live."""
        ...

    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        """Extend the lease if ``holder``/``token`` still hold it (even if it
        just expired and nobody took it). None when lost."""
        ...

    async def release_lease(self, name: str, holder: str, token: int) -> bool:
        """Give the lease up now (expires it, keeps the token counter)."""
        ...

    async def get_lease(self, name: str) -> Lease | None: ...


class OwnershipStore(Protocol):
    """Brokers of a cluster and per-partition ownership with fencing tokens.

    Each (topic, partition) has at most one live grant. A grant's token (the
    partition's epoch) is ``previous + 1`` and every write made through
    `append_owned` / `commit_owned` carries it; the store refuses one whose
    token is not the current, unreleased one with `FencedError`. Every grant
    is recorded in the ownership log, and every event appended by
    `append_owned` keeps its token, so a reader can prove that no partition
    was ever appended by two owners at once.
    """

    async def register_broker(
        self, broker_id: str, address: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord:
        """Create or replace ``broker_id``'s record, live until ``now_ms + ttl_ms``."""
        ...

    async def heartbeat_broker(
        self, broker_id: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord | None:
        """Extend a live registration. None when the broker is unknown or its
        registration already expired (it must register again: the cluster may
        have moved its partitions)."""
        ...

    async def deregister_broker(self, broker_id: str) -> bool:
        """Remove the record at once (graceful shutdown); True when it existed."""
        ...

    async def list_brokers(self, now_ms: int) -> list[BrokerRecord]:
        """Brokers live at ``now_ms``, by id."""
        ...

    async def acquire_partition(
        self, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        """Grant the partition to ``broker_id`` if it is free, released or
        expired, with ``token = previous + 1`` (1 the first time), and log the
        grant. The live holder gets its grant back unchanged; None while
        another broker's grant is live. Concurrent acquires: one wins."""
        ...

    async def renew_partition(
        self, topic: str, partition: int, broker_id: str, token: int, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        """Extend a live grant of ``broker_id`` under ``token``. None when the
        grant expired (even if nobody took it yet), was released or moved on:
        the caller must stop writing and acquire again."""
        ...

    async def release_partition(
        self, topic: str, partition: int, broker_id: str, token: int
    ) -> bool:
        """Give the grant up now (cooperative handoff): writes under its token
        are refused from here on and the next acquire gets token + 1."""
        ...

    async def list_partition_owners(self, topic: str | None = None) -> list[PartitionOwner]:
        """The ownership table (released and expired grants included), by
        topic then partition; only ``topic``'s partitions when given."""
        ...

    async def ownership_log(self, topic: str, partition: int) -> list[OwnershipGrant]:
        """Every grant of the partition, by token."""
        ...

    async def append_owned(
        self, batches: Sequence[tuple[PartitionFence, Sequence[NewEvent]]]
    ) -> list[list[AppendResult]]:
        """`append_many` under per-partition fences: refused with
        `FencedError` (storing nothing of any batch) unless every fence
        carries its partition's current, unreleased token. New events keep
        the token they were appended under (see `fence_tokens`)."""
        ...

    async def commit_owned(
        self,
        group: str,
        topic: str,
        offsets: dict[int, int],
        *,
        tokens: Mapping[int, int],
        generation: int = 0,
    ) -> dict[int, CommittedOffset]:
        """`commit`, refused with `FencedError` (changing nothing) unless
        ``tokens`` holds the current, unreleased token of every partition in
        ``offsets``."""
        ...

    async def fence_tokens(
        self, topic: str, partition: int, from_offset: int, limit: int
    ) -> list[tuple[int, int | None]]:
        """(offset, token) of stored events from ``from_offset``, ascending,
        at most ``limit``; token None for events appended without one."""
        ...


class TopicStore(Protocol):
    async def create_topic(self, config: TopicConfig) -> TopicConfig:
        """Create the topic unless it exists; returns the stored config."""
        ...

    async def put_topic_config(self, config: TopicConfig) -> TopicConfig:
        """Create or update; ``partitions`` may grow, never shrink (`ValueError`)."""
        ...

    async def get_topic_config(self, name: str) -> TopicConfig | None: ...

    async def list_topics(self) -> list[TopicConfig]: ...


class OutboxStore(Protocol):
    async def outbox_insert(self, rows: Sequence[NewOutboxRow]) -> None:
        """Insert pending rows; an id already present is left as it is."""
        ...

    async def outbox_claim(
        self, claimer: str, limit: int, lease_ms: int, now_ms: int
    ) -> list[OutboxRow]:
        """Atomically claim up to ``limit`` pending rows that are due
        (``next_attempt_ms <= now_ms``) and unclaimed or whose lease lapsed,
        oldest first. Concurrent claimers never get the same row."""
        ...

    async def outbox_mark_published(self, claimer: str, ids: Sequence[str], now_ms: int) -> int:
        """Mark rows this claimer holds as published; returns how many."""
        ...

    async def outbox_mark_retry(
        self, claimer: str, row_id: str, error: str, next_attempt_ms: int
    ) -> bool:
        """Count a failed attempt and release the claim until ``next_attempt_ms``."""
        ...

    async def outbox_mark_failed(self, claimer: str, row_id: str, error: str) -> bool: ...

    async def outbox_get(self, row_id: str) -> OutboxRow | None: ...

    async def outbox_purge(self, published_before_ms: int) -> int:
        """Delete published rows published before the cutoff."""
        ...

    async def outbox_stats(self, now_ms: int) -> OutboxStats: ...


class SchemaStore(Protocol):
    """Versioned schemas per subject, with global ids and soft deletion.

    An id names one schema (compared as decoded JSON) across every subject
    and is never given to another schema, even after deletion. Version
    numbers of a subject start at 1 and are never reused.
    """

    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        """Register a schema; the same schema as the latest live version
        returns that version. A new version gets the next number after every
        version the subject ever had (soft-deleted ones included) and the
        schema's global id."""
        ...

    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        """A given version (soft-deleted ones too, flagged ``deleted``), or
        the latest live version when ``version`` is None."""
        ...

    async def list_schema_versions(self, subject: str) -> list[SchemaVersion]:
        """Every stored version of ``subject``, soft-deleted ones included, ascending."""
        ...

    async def list_schema_subjects(self) -> list[str]:
        """Subjects with at least one stored version, sorted."""
        ...

    async def get_schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        """The schema carrying ``schema_id`` while some stored version uses it."""
        ...

    async def delete_schema_version(self, subject: str, version: int, *, permanent: bool) -> bool:
        """Soft-delete (flag) or permanently remove one version; False when
        there is no such version."""
        ...

    async def get_schema_config(self, subject: str) -> str | None:
        """The compatibility level stored for ``subject`` (any string key,
        e.g. a global key chosen by the registry), None when unset."""
        ...

    async def put_schema_config(self, subject: str, compatibility: str | None) -> None:
        """Set the compatibility level of ``subject``; None removes it."""
        ...


class ViewStore(Protocol):
    async def view_upsert(self, view: str, key: str, value: Any, offset: int) -> bool:
        """Set ``key`` unless the stored row came from an offset ``>= offset``.
        True when applied. ``value`` is any JSON-compatible value."""
        ...

    async def view_delete(self, view: str, key: str, offset: int) -> bool:
        """Tombstone ``key`` under the same offset rule as `view_upsert`."""
        ...

    async def view_get(self, view: str, key: str) -> ViewRow | None:
        """The live row of ``key``; None if absent or deleted."""
        ...

    async def view_list(self, view: str, limit: int = 1000) -> list[ViewRow]:
        """Live rows ordered by key."""
        ...


@runtime_checkable
class Store(
    LogStore,
    MaintenanceStore,
    GroupStore,
    AdminStore,
    LeaseStore,
    OwnershipStore,
    TopicStore,
    OutboxStore,
    SchemaStore,
    ViewStore,
    Protocol,
):
    """Everything the services need from durable storage."""

    @property
    def url(self) -> str:
        """The store URL with any password masked."""
        ...

    @property
    def capabilities(self) -> StoreCapabilities: ...

    async def open(self) -> None:
        """Connect and create tables/indexes idempotently."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StoreUnavailableError` when the store cannot be reached."""
        ...
