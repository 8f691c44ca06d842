"""Compaction, tombstone expiry, retention and counts for the compactor.

Deletions go by ``_id`` in chunks, after the survivors were decided in
Python: the rules ("highest offset of each key", "latest event of its key")
are simple to state and to test there, and they need no aggregation
pipeline, which MongoDB-compatible servers support unevenly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from bson import ObjectId
from pymongo import DESCENDING

from promethean.store.mongo.append import LogAppends
from promethean.store.mongo.collections import ALL_COLLECTIONS, EVENTS
from promethean.store.mongo.errors import translated
from promethean.store.records import TOMBSTONE_PAYLOAD

DELETE_CHUNK: Final = 1000


class Maintenance(LogAppends):
    async def _delete_ids(self, ids: Sequence[ObjectId]) -> int:
        removed = 0
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = list(ids[start : start + DELETE_CHUNK])
            result = await self._col(EVENTS).delete_many({"_id": {"$in": chunk}})
            removed += result.deleted_count
        return removed

    async def _pin_counter(self, topic: str, partition: int) -> None:
        """Record the next offset in ``counters`` before deleting events, so
        `latest_offset` survives even when the newest events go."""
        await self._advance_counter(
            topic, partition, await self._stored_next_offset(topic, partition)
        )

    @translated
    async def compact_partition(self, topic: str, partition: int, below_offset: int) -> int:
        cursor = (
            self._col(EVENTS)
            .find(
                {
                    "topic": topic,
                    "partition": partition,
                    "offset": {"$lt": below_offset},
                    "key": {"$ne": None},
                },
                {"_id": 1, "key": 1},
            )
            .sort("offset", DESCENDING)
        )
        seen: set[str] = set()
        doomed: list[ObjectId] = []
        async for doc in cursor:
            if doc["key"] in seen:
                doomed.append(doc["_id"])
            else:
                seen.add(doc["key"])
        if not doomed:
            return 0
        await self._pin_counter(topic, partition)
        return await self._delete_ids(doomed)

    @translated
    async def delete_tombstones(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int
    ) -> int:
        events = self._col(EVENTS)
        candidates = events.find(
            {
                "topic": topic,
                "partition": partition,
                "offset": {"$lt": below_offset},
                "ts": {"$lt": ts_before_ms},
                "key": {"$ne": None},
                "payload": TOMBSTONE_PAYLOAD,
            },
            {"_id": 1, "key": 1, "offset": 1},
        )
        doomed: list[ObjectId] = []
        async for tombstone in candidates:
            latest = await events.find_one(
                {"topic": topic, "partition": partition, "key": tombstone["key"]},
                {"_id": 1},
                sort=[("offset", DESCENDING)],
            )
            if latest is not None and latest["_id"] == tombstone["_id"]:
                doomed.append(tombstone["_id"])
        if not doomed:
            return 0
        await self._pin_counter(topic, partition)
        return await self._delete_ids(doomed)

    @translated
    async def delete_below(
        self, topic: str, partition: int, below_offset: int, *, ts_before_ms: int | None = None
    ) -> int:
        query: dict[str, Any] = {
            "topic": topic,
            "partition": partition,
            "offset": {"$lt": below_offset},
        }
        if ts_before_ms is not None:
            query["ts"] = {"$lt": ts_before_ms}
        await self._pin_counter(topic, partition)
        result = await self._col(EVENTS).delete_many(query)
        return result.deleted_count

    @translated
    async def count_events(self, topic: str, partition: int | None = None) -> int:
        query: dict[str, Any] = {"topic": topic}
        if partition is not None:
            query["partition"] = partition
        return await self._col(EVENTS).count_documents(query)

    @translated
    async def stats(self) -> dict[str, int]:
        return {name: await self._col(name).count_documents({}) for name in ALL_COLLECTIONS}
