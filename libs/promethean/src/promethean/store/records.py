"""Plain records that cross the storage port. No I/O, no adapter types.

Payloads travel as the UTF-8 bytes of their JSON text: the broker never
decodes a payload on the hot path, and every adapter stores exactly the bytes
it was given, so keys like ``$set`` or ``a.b`` round-trip as data.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

TOMBSTONE_PAYLOAD = b"null"


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to append; the store assigns its offset."""

    id: str
    ts: int
    payload: bytes
    key: str | None = None
    headers: dict[str, str] | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as it sits in the log at (topic, partition, offset)."""

    topic: str
    partition: int
    offset: int
    id: str
    ts: int
    payload: bytes
    key: str | None = None
    headers: dict[str, str] | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None

    @property
    def is_tombstone(self) -> bool:
        return self.payload == TOMBSTONE_PAYLOAD


class AppendResult(msgspec.Struct, frozen=True):
    """Where an appended id lives; ``duplicate`` when it was already stored."""

    partition: int
    offset: int
    id: str
    duplicate: bool = False


class Fence(msgspec.Struct, frozen=True):
    """A lease name and the token its holder was granted; writes carrying a
    token other than the lease's current one are refused (`FencedError`)."""

    name: str
    token: int


class Lease(msgspec.Struct, frozen=True):
    name: str
    holder: str
    token: int
    expires_at_ms: int


class CommittedOffset(msgspec.Struct, frozen=True):
    """Every offset ≤ ``offset`` is done for the group; -1 means nothing yet."""

    partition: int
    offset: int
    generation: int = 0


class Member(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    member_id: str
    topics: list[str]
    expires_at_ms: int
    instance_id: str | None = None
    generation: int = 0
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class GroupState(msgspec.Struct, frozen=True, kw_only=True):
    """Coordinator state of a partitioned group: member → topic → partitions."""

    group: str
    generation: int
    assignment: dict[str, dict[str, list[int]]] = msgspec.field(default_factory=dict)
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Cleanup(enum.StrEnum):
    DELETE = "delete"
    COMPACT = "compact"
    COMPACT_DELETE = "compact,delete"


class TopicConfig(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    partitions: int
    max_attempts: int = 5
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int | None = None
    retention_events: int | None = None
    retention_force: bool = False
    tombstone_retention_ms: int | None = None
    snapshot_every: int | None = None
    compact_beyond_commits: bool = False
    created_ms: int = 0
    validate: bool = False
    """Check every payload against the latest schema of ``<topic>-value``."""


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    FAILED = "failed"


class NewOutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    topic: str
    payload: bytes
    created_ms: int
    key: str | None = None
    headers: dict[str, str] | None = None


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """An outbox row. ``claimed_by``/``lease_until_ms`` are set while a drainer
    holds it; a row whose lease lapsed is pending again for everyone."""

    id: str
    topic: str
    payload: bytes
    created_ms: int
    status: OutboxStatus
    attempts: int = 0
    next_attempt_ms: int = 0
    key: str | None = None
    headers: dict[str, str] | None = None
    claimed_by: str | None = None
    lease_until_ms: int | None = None
    published_ms: int | None = None
    last_error: str | None = None


class OutboxStats(msgspec.Struct, frozen=True):
    pending: int
    claimed: int
    published: int
    failed: int
    oldest_pending_created_ms: int | None


class SchemaVersion(msgspec.Struct, frozen=True):
    """One version of a subject. ``id`` is global: the same schema (as
    decoded JSON) has the same id under every subject, for good. ``deleted``
    marks a soft-deleted version, which keeps its number and id."""

    subject: str
    version: int
    schema: dict[str, Any]
    id: int = 0
    deleted: bool = False


class ViewRow(msgspec.Struct, frozen=True):
    """One key of a materialized view and the log offset that produced it.
    A deleted key keeps its row (``value`` None, ``deleted`` True) so an older
    redelivered upsert cannot resurrect it."""

    view: str
    key: str
    value: Any
    offset: int
    deleted: bool = False


class StoreCapabilities(msgspec.Struct, frozen=True):
    transactions: bool
    change_streams: bool
    detail: str = ""
