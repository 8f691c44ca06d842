"""The transactional outbox.

A row is claimable when it is pending, due (``next_attempt_ms <= now_ms``)
and either unclaimed or its claim lapsed (``lease_until_ms <= now_ms``).
Claims run on the single writer inside ``BEGIN IMMEDIATE``, so two claimers
(even in two processes sharing the file) never get the same row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from promethean.store.records import NewOutboxRow, OutboxRow, OutboxStats, OutboxStatus
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import headers_or_none, to_json, to_json_or_none

# Status values are written as literals: 'pending', 'published', 'failed'
# (OutboxStatus). A claim is live while claimed_by is set and lease_until_ms
# is in the future; each "?" of that test is bound to now_ms.
_INSERT: Final = (
    "INSERT INTO outbox (id, topic, payload, created_ms, status, key, headers)"
    " VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (id) DO NOTHING"
)
_DUE: Final = (
    "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?"
    " AND NOT (claimed_by IS NOT NULL AND COALESCE(lease_until_ms, 0) > ?)"
    " ORDER BY created_ms, id LIMIT ?"
)
_TAKE: Final = (
    "UPDATE outbox SET claimed_by = ?, lease_until_ms = ?"
    " WHERE id IN (SELECT value FROM json_each(?))"
    " RETURNING id, topic, payload, created_ms, status, attempts, next_attempt_ms, key,"
    " headers, claimed_by, lease_until_ms, published_ms, last_error"
)
_PUBLISH: Final = (
    "UPDATE outbox SET status = 'published', published_ms = ?, lease_until_ms = NULL"
    " WHERE status = 'pending' AND claimed_by = ? AND id IN (SELECT value FROM json_each(?))"
)
_RETRY: Final = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ?,"
    " claimed_by = NULL, lease_until_ms = NULL"
    " WHERE status = 'pending' AND claimed_by = ? AND id = ?"
)
_FAIL: Final = (
    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
    " lease_until_ms = NULL WHERE status = 'pending' AND claimed_by = ? AND id = ?"
)
_GET: Final = (
    "SELECT id, topic, payload, created_ms, status, attempts, next_attempt_ms, key,"
    " headers, claimed_by, lease_until_ms, published_ms, last_error FROM outbox WHERE id = ?"
)
_PURGE: Final = "DELETE FROM outbox WHERE status = 'published' AND published_ms < ?"
_STATS: Final = (
    "SELECT"
    " COALESCE(SUM(status = 'pending'"
    "  AND NOT (claimed_by IS NOT NULL AND COALESCE(lease_until_ms, 0) > ?1)), 0),"
    " COALESCE(SUM(status = 'pending'"
    "  AND claimed_by IS NOT NULL AND COALESCE(lease_until_ms, 0) > ?1), 0),"
    " COALESCE(SUM(status = 'published'), 0),"
    " COALESCE(SUM(status = 'failed'), 0),"
    " MIN(CASE WHEN status = 'pending' THEN created_ms END)"
    " FROM outbox"
)


def _row(row: Sequence[Any]) -> OutboxRow:
    (
        row_id,
        topic,
        payload,
        created_ms,
        status,
        attempts,
        next_attempt_ms,
        key,
        headers,
        claimed_by,
        lease_until_ms,
        published_ms,
        last_error,
    ) = row
    return OutboxRow(
        id=row_id,
        topic=topic,
        payload=bytes(payload),
        created_ms=created_ms,
        status=OutboxStatus(status),
        attempts=attempts,
        next_attempt_ms=next_attempt_ms,
        key=key,
        headers=headers_or_none(headers),
        claimed_by=claimed_by,
        lease_until_ms=lease_until_ms,
        published_ms=published_ms,
        last_error=last_error,
    )


def insert(conn: sqlite3.Connection, rows: Sequence[NewOutboxRow]) -> None:
    conn.executemany(
        _INSERT,
        [
            (
                row.id,
                row.topic,
                row.payload,
                row.created_ms,
                row.key,
                to_json_or_none(row.headers),
            )
            for row in rows
        ],
    )


def claim(
    conn: sqlite3.Connection, claimer: str, limit: int, lease_ms: int, now_ms: int
) -> list[OutboxRow]:
    due = [row[0] for row in conn.execute(_DUE, (now_ms, now_ms, limit))]
    if not due:
        return []
    taken = [_row(row) for row in conn.execute(_TAKE, (claimer, now_ms + lease_ms, to_json(due)))]
    # RETURNING yields rows in no promised order; hand them out oldest first.
    return sorted(taken, key=lambda row: (row.created_ms, row.id))


def mark_published(conn: sqlite3.Connection, claimer: str, ids: Sequence[str], now_ms: int) -> int:
    if not ids:
        return 0
    return conn.execute(_PUBLISH, (now_ms, claimer, to_json(list(ids)))).rowcount


def mark_retry(
    conn: sqlite3.Connection, claimer: str, row_id: str, error: str, next_attempt_ms: int
) -> bool:
    return conn.execute(_RETRY, (error, next_attempt_ms, claimer, row_id)).rowcount > 0


def mark_failed(conn: sqlite3.Connection, claimer: str, row_id: str, error: str) -> bool:
    return conn.execute(_FAIL, (error, claimer, row_id)).rowcount > 0


def get(conn: sqlite3.Connection, row_id: str) -> OutboxRow | None:
    row = conn.execute(_GET, (row_id,)).fetchone()
    return None if row is None else _row(row)


def purge(conn: sqlite3.Connection, published_before_ms: int) -> int:
    return conn.execute(_PURGE, (published_before_ms,)).rowcount


def stats(conn: sqlite3.Connection, now_ms: int) -> OutboxStats:
    pending, claimed, published, failed, oldest = conn.execute(_STATS, (now_ms,)).fetchone()
    return OutboxStats(int(pending), int(claimed), int(published), int(failed), oldest)


class OutboxMixin(SQLiteBase):
    async def outbox_insert(self, rows: Sequence[NewOutboxRow]) -> None:
        if rows:
            await self._write(insert, list(rows))

    async def outbox_claim(
        self, claimer: str, limit: int, lease_ms: int, now_ms: int
    ) -> list[OutboxRow]:
        if limit <= 0:
            return []
        return await self._write(claim, claimer, limit, lease_ms, now_ms)

    async def outbox_mark_published(self, claimer: str, ids: Sequence[str], now_ms: int) -> int:
        return await self._write(mark_published, claimer, list(ids), now_ms)

    async def outbox_mark_retry(
        self, claimer: str, row_id: str, error: str, next_attempt_ms: int
    ) -> bool:
        return await self._write(mark_retry, claimer, row_id, error, next_attempt_ms)

    async def outbox_mark_failed(self, claimer: str, row_id: str, error: str) -> bool:
        return await self._write(mark_failed, claimer, row_id, error)

    async def outbox_get(self, row_id: str) -> OutboxRow | None:
        return await self._read(get, row_id)

    async def outbox_purge(self, published_before_ms: int) -> int:
        return await self._write(purge, published_before_ms)

    async def outbox_stats(self, now_ms: int) -> OutboxStats:
        return await self._read(stats, now_ms)
