"""The transactional outbox: one document per row, ``_id`` = row id.

A row is claimable when it is pending, due (``next_attempt_ms <= now_ms``)
and either unclaimed or its claim lapsed (``lease_until_ms <= now_ms``).
Claiming needs no transaction: candidates are stamped with a fresh claim
token by one ``update_many`` that repeats the claimable condition, so a row
another drainer stamped first no longer matches; the claimer then reads back
exactly the rows carrying its token. Each row goes to one claimer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import outbox_document, outbox_row
from promethean.store.mongo.collections import OUTBOX
from promethean.store.mongo.errors import is_duplicate_key, translated
from promethean.store.records import NewOutboxRow, OutboxRow, OutboxStats, OutboxStatus

PENDING = OutboxStatus.PENDING.value
PUBLISHED = OutboxStatus.PUBLISHED.value
FAILED = OutboxStatus.FAILED.value
OLDEST_FIRST = [("created_ms", ASCENDING), ("_id", ASCENDING)]


def _claimable(now_ms: int) -> dict[str, Any]:
    return {
        "status": PENDING,
        "next_attempt_ms": {"$lte": now_ms},
        "$or": [{"claimed_by": None}, {"lease_until_ms": {"$lte": now_ms}}],
    }


def _live_claim(now_ms: int) -> dict[str, Any]:
    return {"status": PENDING, "claimed_by": {"$ne": None}, "lease_until_ms": {"$gt": now_ms}}


def _held_by(claimer: str, ids: list[str]) -> dict[str, Any]:
    return {"_id": {"$in": ids}, "status": PENDING, "claimed_by": claimer}


class OutboxOps(MongoBase):
    @translated
    async def outbox_insert(self, rows: Sequence[NewOutboxRow]) -> None:
        if not rows:
            return
        try:
            await self._col(OUTBOX).insert_many(
                [outbox_document(row) for row in rows], ordered=False
            )
        except BulkWriteError as error:
            if not is_duplicate_key(error):  # existing ids are left as they are
                raise

    @translated
    async def outbox_claim(
        self, claimer: str, limit: int, lease_ms: int, now_ms: int
    ) -> list[OutboxRow]:
        async with self._read_modify_write():
            if limit <= 0:
                return []
            outbox = self._col(OUTBOX)
            cursor = outbox.find(_claimable(now_ms), {"_id": 1}).sort(OLDEST_FIRST).limit(limit)
            candidates = [doc["_id"] async for doc in cursor]
            if not candidates:
                return []
            token = uuid.uuid4().hex
            await outbox.update_many(
                {"_id": {"$in": candidates}, **_claimable(now_ms)},
                {
                    "$set": {
                        "claimed_by": claimer,
                        "lease_until_ms": now_ms + lease_ms,
                        "claim_token": token,
                    }
                },
            )
            claimed = outbox.find({"claim_token": token}).sort(OLDEST_FIRST)
            return [outbox_row(doc) async for doc in claimed]

    @translated
    async def outbox_mark_published(self, claimer: str, ids: Sequence[str], now_ms: int) -> int:
        async with self._read_modify_write():
            wanted = list(dict.fromkeys(ids))
            if not wanted:
                return 0
            result = await self._col(OUTBOX).update_many(
                _held_by(claimer, wanted),
                {
                    "$set": {
                        "status": PUBLISHED,
                        "published_ms": now_ms,
                        "lease_until_ms": None,
                        "claim_token": None,
                    }
                },
            )
            return result.modified_count

    @translated
    async def outbox_mark_retry(
        self, claimer: str, row_id: str, error: str, next_attempt_ms: int
    ) -> bool:
        async with self._read_modify_write():
            result = await self._col(OUTBOX).update_one(
                _held_by(claimer, [row_id]),
                {
                    "$inc": {"attempts": 1},
                    "$set": {
                        "last_error": error,
                        "next_attempt_ms": next_attempt_ms,
                        "claimed_by": None,
                        "lease_until_ms": None,
                        "claim_token": None,
                    },
                },
            )
            return result.modified_count == 1

    @translated
    async def outbox_mark_failed(self, claimer: str, row_id: str, error: str) -> bool:
        async with self._read_modify_write():
            result = await self._col(OUTBOX).update_one(
                _held_by(claimer, [row_id]),
                {
                    "$inc": {"attempts": 1},
                    "$set": {
                        "status": FAILED,
                        "last_error": error,
                        "lease_until_ms": None,
                        "claim_token": None,
                    },
                },
            )
            return result.modified_count == 1

    @translated
    async def outbox_get(self, row_id: str) -> OutboxRow | None:
        doc = await self._col(OUTBOX).find_one({"_id": row_id})
        return None if doc is None else outbox_row(doc)

    @translated
    async def outbox_purge(self, published_before_ms: int) -> int:
        result = await self._col(OUTBOX).delete_many(
            {"status": PUBLISHED, "published_ms": {"$lt": published_before_ms}}
        )
        return result.deleted_count

    @translated
    async def outbox_stats(self, now_ms: int) -> OutboxStats:
        """``pending`` and ``claimed`` are disjoint: a pending row under a live
        claim counts as claimed only."""
        outbox = self._col(OUTBOX)
        claimed = await outbox.count_documents(_live_claim(now_ms))
        open_rows = await outbox.count_documents({"status": PENDING})
        published = await outbox.count_documents({"status": PUBLISHED})
        failed = await outbox.count_documents({"status": FAILED})
        oldest = await outbox.find_one(
            {"status": PENDING}, {"created_ms": 1}, sort=[("created_ms", ASCENDING)]
        )
        return OutboxStats(
            pending=open_rows - claimed,
            claimed=claimed,
            published=published,
            failed=failed,
            oldest_pending_created_ms=None if oldest is None else int(oldest["created_ms"]),
        )
