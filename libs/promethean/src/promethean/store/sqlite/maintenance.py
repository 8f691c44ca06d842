"""Compaction and retention primitives for the compactor, plus counts.

None of these touch ``counters``: the next offset of a partition survives
every deletion, so offsets are never reused.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from promethean.store.records import TOMBSTONE_PAYLOAD
from promethean.store.sqlite.base import SQLiteBase

# A keyed event below the cut is removed when a newer event of its key also
# sits below the cut; ?1 topic, ?2 partition, ?3 below_offset.
_COMPACT: Final = (
    'DELETE FROM events WHERE topic = ?1 AND partition = ?2 AND "offset" < ?3'
    " AND key IS NOT NULL AND EXISTS ("
    " SELECT 1 FROM events AS newer WHERE newer.topic = ?1 AND newer.key = events.key"
    ' AND newer.partition = ?2 AND newer."offset" > events."offset" AND newer."offset" < ?3)'
)
# ?4 ts_before_ms, ?5 the tombstone payload.
_DELETE_TOMBSTONES: Final = (
    'DELETE FROM events WHERE topic = ?1 AND partition = ?2 AND "offset" < ?3'
    " AND ts < ?4 AND payload = ?5 AND key IS NOT NULL AND NOT EXISTS ("
    " SELECT 1 FROM events AS newer WHERE newer.topic = ?1 AND newer.key = events.key"
    ' AND newer.partition = ?2 AND newer."offset" > events."offset")'
)
_DELETE_BELOW: Final = 'DELETE FROM events WHERE topic = ? AND partition = ? AND "offset" < ?'
_DELETE_BELOW_BEFORE: Final = _DELETE_BELOW + " AND ts < ?"
_COUNT_TOPIC: Final = "SELECT COUNT(*) FROM events WHERE topic = ?"
_COUNT_PARTITION: Final = "SELECT COUNT(*) FROM events WHERE topic = ? AND partition = ?"
_COUNT_TABLE: Final = {
    "events": "SELECT COUNT(*) FROM events",
    "counters": "SELECT COUNT(*) FROM counters",
    "group_offsets": "SELECT COUNT(*) FROM group_offsets",
    "delivery_attempts": "SELECT COUNT(*) FROM delivery_attempts",
    "group_members": "SELECT COUNT(*) FROM group_members",
    "group_state": "SELECT COUNT(*) FROM group_state",
    "topic_configs": "SELECT COUNT(*) FROM topic_configs",
    "outbox": "SELECT COUNT(*) FROM outbox",
    "leases": "SELECT COUNT(*) FROM leases",
    "schemas": "SELECT COUNT(*) FROM schemas",
    "views": "SELECT COUNT(*) FROM views",
}


def compact(conn: sqlite3.Connection, topic: str, partition: int, below_offset: int) -> int:
    return conn.execute(_COMPACT, (topic, partition, below_offset)).rowcount


def remove_tombstones(
    conn: sqlite3.Connection, topic: str, partition: int, below_offset: int, ts_before_ms: int
) -> int:
    params = (topic, partition, below_offset, ts_before_ms, TOMBSTONE_PAYLOAD)
    return conn.execute(_DELETE_TOMBSTONES, params).rowcount


def remove_below(
    conn: sqlite3.Connection,
    topic: str,
    partition: int,
    below_offset: int,
    ts_before_ms: int | None,
) -> int:
    if ts_before_ms is None:
        return conn.execute(_DELETE_BELOW, (topic, partition, below_offset)).rowcount
    params = (topic, partition, below_offset, ts_before_ms)
    return conn.execute(_DELETE_BELOW_BEFORE, params).rowcount


def count_stored(conn: sqlite3.Connection, topic: str, partition: int | None) -> int:
    if partition is None:
        (count,) = conn.execute(_COUNT_TOPIC, (topic,)).fetchone()
    else:
        (count,) = conn.execute(_COUNT_PARTITION, (topic, partition)).fetchone()
    return int(count)


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: int(conn.execute(sql).fetchone()[0]) for table, sql in _COUNT_TABLE.items()}


class MaintenanceMixin(SQLiteBase):
    async def compact_partition(self, topic: str, partition: int, below_offset: int) -> int:
        return await self._write(compact, topic, partition, below_offset)

    async def delete_tombstones(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int
    ) -> int:
        return await self._write(remove_tombstones, topic, partition, below_offset, ts_before_ms)

    async def delete_below(
        self, topic: str, partition: int, below_offset: int, *, ts_before_ms: int | None = None
    ) -> int:
        return await self._write(remove_below, topic, partition, below_offset, ts_before_ms)

    async def count_events(self, topic: str, partition: int | None = None) -> int:
        return await self._read(count_stored, topic, partition)

    async def stats(self) -> dict[str, int]:
        return await self._read(table_counts)
