"""The event log: append (idempotent, fenced, dense offsets) and reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from promethean.store.records import AppendResult, Fence, NewEvent, StoredEvent
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import (
    headers_or_none,
    strings_or_none,
    to_json,
    to_json_or_none,
)
from promethean.store.sqlite.leases import check_fence

_INSERT_EVENT: Final = (
    'INSERT INTO events (topic, partition, "offset", id, ts, payload, key, headers, caused_by,'
    " tags, sid, fence_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_NEXT_OFFSET: Final = (
    "SELECT COALESCE("
    " (SELECT next_offset FROM counters WHERE topic = ?1 AND partition = ?2),"
    ' (SELECT MAX("offset") + 1 FROM events WHERE topic = ?1 AND partition = ?2),'
    " 0)"
)
_SET_NEXT_OFFSET: Final = (
    "INSERT INTO counters (topic, partition, next_offset) VALUES (?, ?, ?)"
    " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset"
)
# Ids travel as one JSON array parameter: one statement per batch whatever its
# size, no host-parameter limit, and each id is still looked up in events_id.
_FIND_IDS: Final = (
    'SELECT id, partition, "offset" FROM events'
    " WHERE topic = ? AND id IN (SELECT value FROM json_each(?))"
)
# SQLite's JSON functions end a string at NUL, so an id holding one is looked
# up by itself (the edges refuse such ids; the store still keeps its promise).
_FIND_ID: Final = 'SELECT id, partition, "offset" FROM events WHERE topic = ? AND id = ?'
_EARLIEST: Final = 'SELECT MIN("offset") FROM events WHERE topic = ? AND partition = ?'
_FIRST_AT_OR_AFTER: Final = (
    'SELECT MIN("offset") FROM events WHERE topic = ? AND partition = ? AND ts >= ?'
)
_LATEST_BY_KEY: Final = (
    'SELECT partition, "offset", id, ts, payload, key, headers, caused_by, tags, sid'
    " FROM events WHERE topic = ? AND key = ?"
    ' ORDER BY "offset" DESC, partition LIMIT 1'
)
_READ_BASE: Final = (
    'SELECT partition, "offset", id, ts, payload, key, headers, caused_by, tags, sid'
    ' FROM events WHERE topic = ? AND partition = ? AND "offset" >= ?'
)
_READ_TO: Final = ' AND "offset" <= ?'
_READ_KEY: Final = " AND key = ?"
_READ_HEADER: Final = (
    " AND EXISTS (SELECT 1 FROM json_each(events.headers) AS h WHERE h.key = ? AND h.value = ?)"
)
_READ_ORDER: Final = ' ORDER BY "offset" LIMIT ?'


def append_event_batches(
    conn: sqlite3.Connection,
    batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
    fence: Fence | None,
) -> list[list[AppendResult]]:
    """Every batch in the caller's one transaction: one fsync for them all."""
    if fence is not None:
        check_fence(conn, fence)
    return [
        append_events(conn, topic, partition, events, None) for topic, partition, events in batches
    ]


def next_offset(conn: sqlite3.Connection, topic: str, partition: int) -> int:
    """The offset the next append gets; the counter outlives deleted events."""
    (value,) = conn.execute(_NEXT_OFFSET, (topic, partition)).fetchone()
    return int(value)


def find_positions(
    conn: sqlite3.Connection, topic: str, ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    if not ids:
        return {}
    plain = [i for i in ids if "\x00" not in i]
    found: dict[str, tuple[int, int]] = {}
    if plain:
        cursor = conn.execute(_FIND_IDS, (topic, to_json(plain)))
        found = {row[0]: (row[1], row[2]) for row in cursor}
    for odd in (i for i in ids if "\x00" in i):
        for row in conn.execute(_FIND_ID, (topic, odd)):
            found[row[0]] = (row[1], row[2])
    return found


def append_events(
    conn: sqlite3.Connection,
    topic: str,
    partition: int,
    events: Sequence[NewEvent],
    fence: Fence | None,
    fence_token: int | None = None,
) -> list[AppendResult]:
    """Append one partition's events; ``fence_token`` is kept with each new
    event (the ownership grant it was appended under)."""
    if fence is not None:
        check_fence(conn, fence)
    if not events:
        return []
    known = find_positions(conn, topic, list({event.id for event in events}))
    offset = next_offset(conn, topic, partition)
    results: list[AppendResult] = []
    rows: list[tuple[Any, ...]] = []
    for event in events:
        seen = known.get(event.id)
        if seen is not None:
            results.append(AppendResult(seen[0], seen[1], event.id, duplicate=True))
            continue
        known[event.id] = (partition, offset)
        rows.append(
            (
                topic,
                partition,
                offset,
                event.id,
                event.ts,
                event.payload,
                event.key,
                to_json_or_none(event.headers),
                to_json_or_none(event.caused_by),
                to_json_or_none(event.tags),
                event.sid,
                fence_token,
            )
        )
        results.append(AppendResult(partition, offset, event.id))
        offset += 1
    if rows:
        conn.executemany(_INSERT_EVENT, rows)
        conn.execute(_SET_NEXT_OFFSET, (topic, partition, offset))
    return results


def stored_event(topic: str, row: Sequence[Any]) -> StoredEvent:
    partition, offset, event_id, ts, payload, key, headers, caused_by, tags, sid = row
    return StoredEvent(
        topic=topic,
        partition=partition,
        offset=offset,
        id=event_id,
        ts=ts,
        payload=bytes(payload),
        key=key,
        headers=headers_or_none(headers),
        caused_by=strings_or_none(caused_by),
        tags=strings_or_none(tags),
        sid=sid,
    )


def read_events(
    conn: sqlite3.Connection,
    topic: str,
    partition: int,
    from_offset: int,
    limit: int,
    to_offset: int | None,
    key: str | None,
    header: tuple[str, str] | None,
) -> list[StoredEvent]:
    sql = _READ_BASE
    params: list[Any] = [topic, partition, from_offset]
    if to_offset is not None:
        sql += _READ_TO
        params.append(to_offset)
    if key is not None:
        sql += _READ_KEY
        params.append(key)
    if header is not None:
        sql += _READ_HEADER
        params.extend(header)
    sql += _READ_ORDER
    params.append(limit)
    return [stored_event(topic, row) for row in conn.execute(sql, params)]


def first_offset_at(conn: sqlite3.Connection, topic: str, partition: int, ts_ms: int) -> int:
    (found,) = conn.execute(_FIRST_AT_OR_AFTER, (topic, partition, ts_ms)).fetchone()
    return next_offset(conn, topic, partition) if found is None else int(found)


def earliest(conn: sqlite3.Connection, topic: str, partition: int) -> int:
    (found,) = conn.execute(_EARLIEST, (topic, partition)).fetchone()
    return next_offset(conn, topic, partition) if found is None else int(found)


def latest_with_key(conn: sqlite3.Connection, topic: str, key: str) -> StoredEvent | None:
    row = conn.execute(_LATEST_BY_KEY, (topic, key)).fetchone()
    return None if row is None else stored_event(topic, row)


class LogMixin(SQLiteBase):
    async def append_many(
        self,
        batches: Sequence[tuple[str, int, Sequence[NewEvent]]],
        *,
        fence: Fence | None = None,
    ) -> list[list[AppendResult]]:
        copied = [(topic, partition, list(events)) for topic, partition, events in batches]
        size = sum(len(events) for _, _, events in copied)
        return await self._write_append(size, append_event_batches, copied, fence)

    async def append(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        *,
        fence: Fence | None = None,
    ) -> list[AppendResult]:
        return await self._write(append_events, topic, partition, list(events), fence)

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
        if limit <= 0:
            return []
        return await self._read(
            read_events, topic, partition, from_offset, limit, to_offset, key, header
        )

    async def offset_for_timestamp(self, topic: str, partition: int, ts_ms: int) -> int:
        return await self._read(first_offset_at, topic, partition, ts_ms)

    async def latest_offset(self, topic: str, partition: int) -> int:
        return await self._read(next_offset, topic, partition) - 1

    async def earliest_offset(self, topic: str, partition: int) -> int:
        return await self._read(earliest, topic, partition)

    async def find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        return await self._read(find_positions, topic, list(ids))

    async def latest_by_key(self, topic: str, key: str) -> StoredEvent | None:
        return await self._read(latest_with_key, topic, key)
