"""The transactional outbox held in memory.

A row is claimable when it is pending, due (``next_attempt_ms <= now_ms``)
and either unclaimed or its claim lapsed (``lease_until_ms <= now_ms``).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from promethean.store.memory.copies import detached_outbox_row, pending_outbox_row
from promethean.store.records import NewOutboxRow, OutboxRow, OutboxStats, OutboxStatus


def _claim_is_live(row: OutboxRow, now_ms: int) -> bool:
    return row.claimed_by is not None and (row.lease_until_ms or 0) > now_ms


def _claimable(row: OutboxRow, now_ms: int) -> bool:
    return (
        row.status is OutboxStatus.PENDING
        and row.next_attempt_ms <= now_ms
        and not _claim_is_live(row, now_ms)
    )


class OutboxTable:
    def __init__(self) -> None:
        self._rows: dict[str, OutboxRow] = {}

    def insert(self, rows: Sequence[NewOutboxRow]) -> None:
        for row in rows:
            if row.id not in self._rows:
                self._rows[row.id] = pending_outbox_row(row)

    def claim(self, claimer: str, limit: int, lease_ms: int, now_ms: int) -> list[OutboxRow]:
        if limit <= 0:
            return []
        due = sorted(
            (row for row in self._rows.values() if _claimable(row, now_ms)),
            key=lambda row: (row.created_ms, row.id),
        )[:limit]
        claimed: list[OutboxRow] = []
        for row in due:
            taken = msgspec.structs.replace(
                row, claimed_by=claimer, lease_until_ms=now_ms + lease_ms
            )
            self._rows[row.id] = taken
            claimed.append(detached_outbox_row(taken))
        return claimed

    def _held(self, claimer: str, row_id: str) -> OutboxRow | None:
        row = self._rows.get(row_id)
        if row is None or row.status is not OutboxStatus.PENDING or row.claimed_by != claimer:
            return None
        return row

    def mark_published(self, claimer: str, ids: Sequence[str], now_ms: int) -> int:
        marked = 0
        for row_id in dict.fromkeys(ids):
            row = self._held(claimer, row_id)
            if row is None:
                continue
            self._rows[row_id] = msgspec.structs.replace(
                row, status=OutboxStatus.PUBLISHED, published_ms=now_ms, lease_until_ms=None
            )
            marked += 1
        return marked

    def mark_retry(self, claimer: str, row_id: str, error: str, next_attempt_ms: int) -> bool:
        row = self._held(claimer, row_id)
        if row is None:
            return False
        self._rows[row_id] = msgspec.structs.replace(
            row,
            attempts=row.attempts + 1,
            last_error=error,
            next_attempt_ms=next_attempt_ms,
            claimed_by=None,
            lease_until_ms=None,
        )
        return True

    def mark_failed(self, claimer: str, row_id: str, error: str) -> bool:
        row = self._held(claimer, row_id)
        if row is None:
            return False
        self._rows[row_id] = msgspec.structs.replace(
            row,
            status=OutboxStatus.FAILED,
            attempts=row.attempts + 1,
            last_error=error,
            lease_until_ms=None,
        )
        return True

    def get(self, row_id: str) -> OutboxRow | None:
        row = self._rows.get(row_id)
        return None if row is None else detached_outbox_row(row)

    def purge(self, published_before_ms: int) -> int:
        doomed = [
            row.id
            for row in self._rows.values()
            if row.status is OutboxStatus.PUBLISHED
            and row.published_ms is not None
            and row.published_ms < published_before_ms
        ]
        for row_id in doomed:
            del self._rows[row_id]
        return len(doomed)

    def stats(self, now_ms: int) -> OutboxStats:
        """``pending`` and ``claimed`` are disjoint: a pending row under a live
        claim counts as claimed only."""
        pending = claimed = published = failed = 0
        oldest: int | None = None
        for row in self._rows.values():
            if row.status is OutboxStatus.PUBLISHED:
                published += 1
            elif row.status is OutboxStatus.FAILED:
                failed += 1
            else:
                if _claim_is_live(row, now_ms):
                    claimed += 1
                else:
                    pending += 1
                if oldest is None or row.created_ms < oldest:
                    oldest = row.created_ms
        return OutboxStats(pending, claimed, published, failed, oldest)

    def __len__(self) -> int:
        return len(self._rows)
