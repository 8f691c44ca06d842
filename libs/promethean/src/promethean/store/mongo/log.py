"""Reading the event log: ranges, offsets, ids and keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING

from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import EVENT_PROJECTION, header_pair, stored_event
from promethean.store.mongo.collections import COUNTERS, EVENTS
from promethean.store.mongo.errors import translated
from promethean.store.records import StoredEvent


def counter_id(topic: str, partition: int) -> str:
    """``_id`` of a partition's counter; unambiguous since a partition number
    never contains ``:``."""
    return f"{partition}:{topic}"


class LogReads(MongoBase):
    async def _stored_next_offset(self, topic: str, partition: int) -> int:
        """``max(counters.next, max(offset) + 1)``: the counter survives
        retention, the max offset covers an append whose counter update was
        cut short."""
        counter = await self._col(COUNTERS).find_one({"_id": counter_id(topic, partition)})
        top = await self._col(EVENTS).find_one(
            {"topic": topic, "partition": partition},
            {"_id": 0, "offset": 1},
            sort=[("offset", DESCENDING)],
        )
        from_counter = 0 if counter is None else int(counter["next"])
        from_events = 0 if top is None else int(top["offset"]) + 1
        return max(from_counter, from_events)

    @translated
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
        if limit <= 0:  # a limit of 0 means "no limit" to MongoDB
            return []
        offsets: dict[str, int] = {"$gte": from_offset}
        if to_offset is not None:
            offsets["$lte"] = to_offset
        query: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offsets}
        if key is not None:
            query["key"] = key
        if header is not None:
            query["header_pairs"] = header_pair(header[0], header[1])
        cursor = (
            self._col(EVENTS).find(query, EVENT_PROJECTION).sort("offset", ASCENDING).limit(limit)
        )
        return [stored_event(doc) async for doc in cursor]

    @translated
    async def offset_for_timestamp(self, topic: str, partition: int, ts_ms: int) -> int:
        first = await self._col(EVENTS).find_one(
            {"topic": topic, "partition": partition, "ts": {"$gte": ts_ms}},
            {"_id": 0, "offset": 1},
            sort=[("offset", ASCENDING)],
        )
        if first is not None:
            return int(first["offset"])
        return await self._stored_next_offset(topic, partition)

    @translated
    async def latest_offset(self, topic: str, partition: int) -> int:
        return await self._stored_next_offset(topic, partition) - 1

    @translated
    async def earliest_offset(self, topic: str, partition: int) -> int:
        first = await self._col(EVENTS).find_one(
            {"topic": topic, "partition": partition},
            {"_id": 0, "offset": 1},
            sort=[("offset", ASCENDING)],
        )
        if first is not None:
            return int(first["offset"])
        return await self._stored_next_offset(topic, partition)

    async def _find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        cursor = self._col(EVENTS).find(
            {"topic": topic, "id": {"$in": wanted}},
            {"_id": 0, "id": 1, "partition": 1, "offset": 1},
        )
        return {doc["id"]: (int(doc["partition"]), int(doc["offset"])) async for doc in cursor}

    @translated
    async def find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        return await self._find_ids(topic, ids)

    @translated
    async def latest_by_key(self, topic: str, key: str) -> StoredEvent | None:
        doc = await self._col(EVENTS).find_one(
            {"topic": topic, "key": key},
            EVENT_PROJECTION,
            sort=[("offset", DESCENDING), ("partition", ASCENDING)],
        )
        return None if doc is None else stored_event(doc)
