"""Operator actions: rewind a group, delete a group, delete a topic."""

from __future__ import annotations

from typing import Final

from pymongo import UpdateOne

from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.collections import (
    COUNTERS,
    DELIVERY_ATTEMPTS,
    EVENTS,
    GROUP_OFFSETS,
    TOPIC_CONFIGS,
)
from promethean.store.mongo.errors import translated
from promethean.store.mongo.groups import bulk_upsert
from promethean.store.mongo.log import counter_id
from promethean.store.records import CommittedOffset

MAX_PARTITIONS: Final = 1024
"""Partition counters to remove when the topic's config is already gone."""


class AdminOps(MongoBase):
    @translated
    async def reset_commits(
        self, group: str, topic: str, offsets: dict[int, int]
    ) -> dict[int, CommittedOffset]:
        ops = [
            UpdateOne(
                {"group": group, "topic": topic, "partition": partition},
                {"$set": {"offset": offset}, "$setOnInsert": {"generation": 0}},
                upsert=True,
            )
            for partition, offset in sorted(offsets.items())
        ]
        if ops:
            await bulk_upsert(self._col(GROUP_OFFSETS), ops)
            await self._col(DELIVERY_ATTEMPTS).delete_many(
                {"group": group, "topic": topic, "partition": {"$in": sorted(offsets)}}
            )
        result: dict[int, CommittedOffset] = {}
        async for doc in self._col(GROUP_OFFSETS).find(
            {"group": group, "topic": topic, "partition": {"$in": sorted(offsets)}}
        ):
            partition = int(doc["partition"])
            result[partition] = CommittedOffset(
                partition, int(doc["offset"]), int(doc.get("generation", 0))
            )
        return result

    @translated
    async def delete_group(self, group: str, topic: str) -> bool:
        query = {"group": group, "topic": topic}
        removed = (await self._col(GROUP_OFFSETS).delete_many(query)).deleted_count
        removed += (await self._col(DELIVERY_ATTEMPTS).delete_many(query)).deleted_count
        return removed > 0

    @translated
    async def delete_topic(self, topic: str) -> bool:
        configs = self._col(TOPIC_CONFIGS)
        stored = await configs.find_one({"_id": topic}, {"partitions": 1})
        partitions = int(stored["partitions"]) if stored is not None else MAX_PARTITIONS
        await self._col(EVENTS).delete_many({"topic": topic})
        await self._col(COUNTERS).delete_many(
            {"_id": {"$in": [counter_id(topic, p) for p in range(partitions)]}}
        )
        for key in [k for k in self._slots if k[0] == topic]:
            slot = self._slots[key]
            async with slot.lock:
                slot.next_offset = None  # the next append reads the (removed) counter
        await self._col(GROUP_OFFSETS).delete_many({"topic": topic})
        await self._col(DELIVERY_ATTEMPTS).delete_many({"topic": topic})
        return (await configs.delete_one({"_id": topic})).deleted_count > 0
