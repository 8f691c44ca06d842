"""Brokers and per-partition ownership grants with fencing tokens.

Each transition is one write transaction on the single writer thread, so
two brokers racing for a partition are decided in turn; the fence of an
owned append or commit is checked inside the write's own transaction, so a
token superseded before the write began can never slip one in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from promethean.store.ownership_records import (
    RELEASED_EXPIRY_MS,
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)
from promethean.store.ownership_rules import check_fence, commit_fences, next_grant
from promethean.store.records import AppendResult, CommittedOffset, NewEvent
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.groups import commit_offsets
from promethean.store.sqlite.log import append_events

_PUT_BROKER: Final = (
    "INSERT INTO brokers (broker_id, address, expires_at_ms) VALUES (?, ?, ?)"
    " ON CONFLICT (broker_id) DO UPDATE SET address = excluded.address,"
    " expires_at_ms = excluded.expires_at_ms"
)
_BEAT: Final = (
    "UPDATE brokers SET expires_at_ms = ? WHERE broker_id = ? AND expires_at_ms > ?"
    " RETURNING address"
)
_DROP_BROKER: Final = "DELETE FROM brokers WHERE broker_id = ?"
_LIVE_BROKERS: Final = (
    "SELECT broker_id, address, expires_at_ms FROM brokers WHERE expires_at_ms > ?"
    " ORDER BY broker_id"
)
_OWNER: Final = (
    "SELECT topic, partition, broker_id, token, expires_at_ms FROM partition_owners"
    " WHERE topic = ? AND partition = ?"
)
_OWNERS: Final = (
    "SELECT topic, partition, broker_id, token, expires_at_ms FROM partition_owners"
    " ORDER BY topic, partition"
)
_TOPIC_OWNERS: Final = (
    "SELECT topic, partition, broker_id, token, expires_at_ms FROM partition_owners"
    " WHERE topic = ? ORDER BY partition"
)
_PUT_OWNER: Final = (
    "INSERT INTO partition_owners (topic, partition, broker_id, token, expires_at_ms)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (topic, partition) DO UPDATE SET broker_id = excluded.broker_id,"
    " token = excluded.token, expires_at_ms = excluded.expires_at_ms"
)
_SET_EXPIRY: Final = (
    "UPDATE partition_owners SET expires_at_ms = ?"
    " WHERE topic = ? AND partition = ? AND broker_id = ? AND token = ? AND expires_at_ms > ?"
)
_LOG_GRANT: Final = (
    "INSERT INTO ownership_log (topic, partition, token, broker_id, acquired_ms)"
    " VALUES (?, ?, ?, ?, ?)"
)
_GRANTS: Final = (
    "SELECT topic, partition, token, broker_id, acquired_ms FROM ownership_log"
    " WHERE topic = ? AND partition = ? ORDER BY token"
)
_TOKENS: Final = (
    'SELECT "offset", fence_token FROM events WHERE topic = ? AND partition = ? AND "offset" >= ?'
    ' ORDER BY "offset" LIMIT ?'
)


def _owner(row: Sequence[Any]) -> PartitionOwner:
    topic, partition, broker_id, token, expires_at_ms = row
    return PartitionOwner(
        topic=topic,
        partition=partition,
        broker_id=broker_id,
        token=token,
        expires_at_ms=expires_at_ms,
    )


def current_owner(conn: sqlite3.Connection, topic: str, partition: int) -> PartitionOwner | None:
    row = conn.execute(_OWNER, (topic, partition)).fetchone()
    return None if row is None else _owner(row)


def check_fences(conn: sqlite3.Connection, fences: Iterable[PartitionFence]) -> None:
    for fence in fences:
        current = current_owner(conn, fence.topic, fence.partition)
        check_fence(fence, None if current is None else (current.token, current.expires_at_ms))


def register(
    conn: sqlite3.Connection, broker_id: str, address: str, ttl_ms: int, now_ms: int
) -> BrokerRecord:
    record = BrokerRecord(broker_id=broker_id, address=address, expires_at_ms=now_ms + ttl_ms)
    conn.execute(_PUT_BROKER, (broker_id, address, record.expires_at_ms))
    return record


def heartbeat(
    conn: sqlite3.Connection, broker_id: str, ttl_ms: int, now_ms: int
) -> BrokerRecord | None:
    expires = now_ms + ttl_ms
    row = conn.execute(_BEAT, (expires, broker_id, now_ms)).fetchone()
    return (
        None
        if row is None
        else BrokerRecord(broker_id=broker_id, address=row[0], expires_at_ms=expires)
    )


def deregister(conn: sqlite3.Connection, broker_id: str) -> bool:
    return conn.execute(_DROP_BROKER, (broker_id,)).rowcount > 0


def live_brokers(conn: sqlite3.Connection, now_ms: int) -> list[BrokerRecord]:
    return [
        BrokerRecord(broker_id=broker_id, address=address, expires_at_ms=expires)
        for broker_id, address, expires in conn.execute(_LIVE_BROKERS, (now_ms,))
    ]


def acquire(
    conn: sqlite3.Connection, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
) -> PartitionOwner | None:
    current = current_owner(conn, topic, partition)
    granted = next_grant(current, topic, partition, broker_id, now_ms + ttl_ms, now_ms)
    if granted is None or granted == current:
        return granted
    conn.execute(_PUT_OWNER, (topic, partition, broker_id, granted.token, granted.expires_at_ms))
    conn.execute(_LOG_GRANT, (topic, partition, granted.token, broker_id, now_ms))
    return granted


def renew(
    conn: sqlite3.Connection,
    topic: str,
    partition: int,
    broker_id: str,
    token: int,
    ttl_ms: int,
    now_ms: int,
) -> PartitionOwner | None:
    expires = now_ms + ttl_ms
    params = (expires, topic, partition, broker_id, token, now_ms)
    if conn.execute(_SET_EXPIRY, params).rowcount == 0:
        return None
    return PartitionOwner(
        topic=topic, partition=partition, broker_id=broker_id, token=token, expires_at_ms=expires
    )


def release(
    conn: sqlite3.Connection, topic: str, partition: int, broker_id: str, token: int
) -> bool:
    params = (RELEASED_EXPIRY_MS, topic, partition, broker_id, token, RELEASED_EXPIRY_MS)
    return conn.execute(_SET_EXPIRY, params).rowcount > 0


def owners(conn: sqlite3.Connection, topic: str | None) -> list[PartitionOwner]:
    cursor = conn.execute(_OWNERS) if topic is None else conn.execute(_TOPIC_OWNERS, (topic,))
    return [_owner(row) for row in cursor]


def grants(conn: sqlite3.Connection, topic: str, partition: int) -> list[OwnershipGrant]:
    return [
        OwnershipGrant(
            topic=topic, partition=partition, token=token, broker_id=broker_id, acquired_ms=at
        )
        for topic, partition, token, broker_id, at in conn.execute(_GRANTS, (topic, partition))
    ]


def append_fenced(
    conn: sqlite3.Connection, batches: Sequence[tuple[PartitionFence, Sequence[NewEvent]]]
) -> list[list[AppendResult]]:
    check_fences(conn, (fence for fence, _ in batches))
    return [
        append_events(conn, fence.topic, fence.partition, events, None, fence.token)
        for fence, events in batches
    ]


def commit_fenced(
    conn: sqlite3.Connection,
    group: str,
    topic: str,
    offsets: dict[int, int],
    tokens: Mapping[int, int],
    generation: int,
) -> dict[int, CommittedOffset]:
    check_fences(conn, commit_fences(group, topic, offsets, tokens))
    return commit_offsets(conn, group, topic, offsets, generation)


def event_tokens(
    conn: sqlite3.Connection, topic: str, partition: int, from_offset: int, limit: int
) -> list[tuple[int, int | None]]:
    rows = conn.execute(_TOKENS, (topic, partition, from_offset, limit))
    return [(int(offset), None if token is None else int(token)) for offset, token in rows]


class OwnershipMixin(SQLiteBase):
    async def register_broker(
        self, broker_id: str, address: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord:
        return await self._write(register, broker_id, address, ttl_ms, now_ms)

    async def heartbeat_broker(
        self, broker_id: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord | None:
        return await self._write(heartbeat, broker_id, ttl_ms, now_ms)

    async def deregister_broker(self, broker_id: str) -> bool:
        return await self._write(deregister, broker_id)

    async def list_brokers(self, now_ms: int) -> list[BrokerRecord]:
        return await self._read(live_brokers, now_ms)

    async def acquire_partition(
        self, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        return await self._write(acquire, topic, partition, broker_id, ttl_ms, now_ms)

    async def renew_partition(
        self, topic: str, partition: int, broker_id: str, token: int, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        return await self._write(renew, topic, partition, broker_id, token, ttl_ms, now_ms)

    async def release_partition(
        self, topic: str, partition: int, broker_id: str, token: int
    ) -> bool:
        return await self._write(release, topic, partition, broker_id, token)

    async def list_partition_owners(self, topic: str | None = None) -> list[PartitionOwner]:
        return await self._read(owners, topic)

    async def ownership_log(self, topic: str, partition: int) -> list[OwnershipGrant]:
        return await self._read(grants, topic, partition)

    async def append_owned(
        self, batches: Sequence[tuple[PartitionFence, Sequence[NewEvent]]]
    ) -> list[list[AppendResult]]:
        copied = [(fence, list(events)) for fence, events in batches]
        size = sum(len(events) for _, events in copied)
        return await self._write_append(size, append_fenced, copied)

    async def commit_owned(
        self,
        group: str,
        topic: str,
        offsets: dict[int, int],
        *,
        tokens: Mapping[int, int],
        generation: int = 0,
    ) -> dict[int, CommittedOffset]:
        return await self._write(
            commit_fenced, group, topic, dict(offsets), dict(tokens), generation
        )

    async def fence_tokens(
        self, topic: str, partition: int, from_offset: int, limit: int
    ) -> list[tuple[int, int | None]]:
        if limit <= 0:
            return []
        return await self._read(event_tokens, topic, partition, from_offset, limit)
