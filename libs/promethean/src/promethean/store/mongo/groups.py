"""Committed offsets and delivery-attempt counters of consumer groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from promethean.errors import StaleGenerationError, StoreError
from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.collections import DELIVERY_ATTEMPTS, GROUP_OFFSETS
from promethean.store.mongo.connection import Collection
from promethean.store.mongo.errors import is_duplicate_key, translated
from promethean.store.records import CommittedOffset

STALE_COMMIT: Final = (
    "commit of group {group!r} on {topic!r} partition {partition} carries generation "
    "{given} but generation {stored} is stored"
)
UPSERT_ROUNDS: Final = 5
UPSERT_CONTENDED: Final = "upserts into {collection} kept colliding ({rounds} rounds)"


async def bulk_upsert(collection: Collection, ops: list[UpdateOne]) -> None:
    """Run ordered upserts; an upsert that lost an insert race against an
    identical one (unique index) is retried, now as an update."""
    remaining = ops
    for _ in range(UPSERT_ROUNDS):
        if not remaining:
            return
        try:
            await collection.bulk_write(remaining, ordered=True)
        except BulkWriteError as error:
            if not is_duplicate_key(error):
                raise
            remaining = remaining[min(e["index"] for e in error.details["writeErrors"]) :]
            continue
        return
    raise StoreError(UPSERT_CONTENDED.format(collection=collection.name, rounds=UPSERT_ROUNDS))


Upsert = tuple[dict[str, Any], dict[str, Any]]
"""The filter and the update of one upsert."""


async def idempotent_upserts(collection: Collection, ops: list[Upsert]) -> int | None:
    """Run ``ops`` as ordered upserts in one bulk write; the index of the
    first that lost an insert race (unique index), or None when all ran.

    FerretDB answers an ordered bulk stopped by a write error without
    ``nModified``, which the driver fails to merge (`KeyError`); the ops
    then run again one at a time to find the collision. That replays the
    ones already applied, so every update given here must be idempotent."""
    try:
        await collection.bulk_write([UpdateOne(f, u, upsert=True) for f, u in ops], ordered=True)
    except BulkWriteError as error:
        if not is_duplicate_key(error):
            raise
        return int(min(e["index"] for e in error.details["writeErrors"]))
    except KeyError as error:
        if error.args != ("nModified",):
            raise
        for index, (query, update) in enumerate(ops):
            try:
                await collection.update_one(query, update, upsert=True)
            except DuplicateKeyError:
                return index
    return None


class GroupOffsets(MongoBase):
    async def _commit_rows(
        self, group: str, topic: str, partitions: list[int] | None = None
    ) -> dict[int, CommittedOffset]:
        query: dict[str, Any] = {"group": group, "topic": topic}
        if partitions is not None:
            query["partition"] = {"$in": partitions}
        cursor = self._col(GROUP_OFFSETS).find(query).sort("partition", ASCENDING)
        return {
            int(doc["partition"]): CommittedOffset(
                int(doc["partition"]), int(doc["offset"]), int(doc.get("generation", 0))
            )
            async for doc in cursor
        }

    @translated
    async def get_commits(self, group: str, topic: str) -> dict[int, CommittedOffset]:
        return await self._commit_rows(group, topic)

    @translated
    async def commit(
        self, group: str, topic: str, offsets: dict[int, int], *, generation: int = 0
    ) -> dict[int, CommittedOffset]:
        """See `GroupStore.commit`. Without transactions the generation check
        and the write are two steps; each row's update repeats the check
        (``generation <= given``), so a newer generation that slips in between
        is never overwritten: that row's update finds nothing and the upsert
        collides with the unique index, reported as `StaleGenerationError`."""
        async with self._read_modify_write():
            if not offsets:
                return {}
            rows = self._col(GROUP_OFFSETS)
            partitions = sorted(offsets)
            newer = await rows.find_one(
                {
                    "group": group,
                    "topic": topic,
                    "partition": {"$in": partitions},
                    "generation": {"$gt": generation},
                }
            )
            if newer is not None:
                raise self._stale(group, topic, newer["partition"], generation, newer["generation"])
            ops = [
                (
                    {
                        "group": group,
                        "topic": topic,
                        "partition": partition,
                        "generation": {"$lte": generation},
                    },
                    {"$max": {"offset": offsets[partition]}, "$set": {"generation": generation}},
                )
                for partition in partitions
            ]
            for _ in range(UPSERT_ROUNDS):
                failed = await idempotent_upserts(rows, ops)
                if failed is None:
                    break
                partition = partitions[failed]
                stored = await rows.find_one(
                    {"group": group, "topic": topic, "partition": partition}
                )
                if stored is not None and stored["generation"] > generation:
                    raise self._stale(group, topic, partition, generation, stored["generation"])
                ops, partitions = ops[failed:], partitions[failed:]  # lost an insert race
            else:
                raise StoreError(
                    UPSERT_CONTENDED.format(collection=rows.name, rounds=UPSERT_ROUNDS)
                )
            return await self._commit_rows(group, topic, sorted(offsets))

    @staticmethod
    def _stale(
        group: str, topic: str, partition: int, given: int, stored: int
    ) -> StaleGenerationError:
        return StaleGenerationError(
            STALE_COMMIT.format(
                group=group, topic=topic, partition=partition, given=given, stored=stored
            )
        )

    @translated
    async def groups_for_topic(self, topic: str) -> list[str]:
        groups = await self._col(GROUP_OFFSETS).distinct("group", {"topic": topic})
        return sorted(str(group) for group in groups)

    @translated
    async def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        async with self._read_modify_write():
            if not offsets:
                return {}
            row = {"group": group, "topic": topic, "partition": partition}
            await bulk_upsert(
                self._col(DELIVERY_ATTEMPTS),
                [
                    UpdateOne({**row, "offset": offset}, {"$inc": {"attempts": 1}}, upsert=True)
                    for offset in offsets
                ],
            )
            wanted = sorted(set(offsets))
            cursor = self._col(DELIVERY_ATTEMPTS).find({**row, "offset": {"$in": wanted}})
            return {int(doc["offset"]): int(doc["attempts"]) async for doc in cursor}

    @translated
    async def get_attempts(
        self, group: str, topic: str, partition: int, from_offset: int
    ) -> dict[int, int]:
        cursor = (
            self._col(DELIVERY_ATTEMPTS)
            .find(
                {
                    "group": group,
                    "topic": topic,
                    "partition": partition,
                    "offset": {"$gte": from_offset},
                }
            )
            .sort("offset", ASCENDING)
        )
        return {int(doc["offset"]): int(doc["attempts"]) async for doc in cursor}

    @translated
    async def clear_attempts(self, group: str, topic: str, partition: int, up_to: int) -> None:
        await self._col(DELIVERY_ATTEMPTS).delete_many(
            {"group": group, "topic": topic, "partition": partition, "offset": {"$lte": up_to}}
        )
