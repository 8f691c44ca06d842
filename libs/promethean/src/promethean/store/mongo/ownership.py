"""Brokers and per-partition ownership grants with fencing tokens.

``brokers``: one document per broker, ``_id`` = broker id.
``partition_owners``: one document per (topic, partition), ``_id`` as the
partition's counter, holding the current grant and, in ``grants``, the
ownership log (the last `MAX_LOGGED_GRANTS` grants). A new grant is one
compare-and-set on the document as read (token, holder, expiry) that sets
token + 1 and pushes the log entry in the same write, so two contenders can
never both win and the log can never miss a grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from promethean.store.mongo.collections import BROKERS, EVENTS, PARTITION_OWNERS
from promethean.store.mongo.connection import Collection, Document
from promethean.store.mongo.errors import translated
from promethean.store.mongo.groups import GroupOffsets
from promethean.store.mongo.log import counter_id
from promethean.store.ownership_records import (
    RELEASED_EXPIRY_MS,
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)
from promethean.store.ownership_rules import check_fence, commit_fences, next_grant
from promethean.store.records import CommittedOffset

ACQUIRE_ROUNDS: Final = 3
MAX_LOGGED_GRANTS: Final = 10_000
"""Grants kept per partition: bounds the document; far more than any
stored event can still refer to under sane retention."""
_GRANT_FIELDS: Final = {"grants": 0}


def _broker(doc: Document) -> BrokerRecord:
    return BrokerRecord(
        broker_id=doc["_id"], address=doc["address"], expires_at_ms=int(doc["expires_at_ms"])
    )


def _owner(doc: Document) -> PartitionOwner:
    return PartitionOwner(
        topic=doc["topic"],
        partition=int(doc["partition"]),
        broker_id=doc["broker_id"],
        token=int(doc["token"]),
        expires_at_ms=int(doc["expires_at_ms"]),
    )


def _grant_entry(owner: PartitionOwner, now_ms: int) -> Document:
    return {"token": owner.token, "broker_id": owner.broker_id, "acquired_ms": now_ms}


async def check_fences(owners: Collection, fences: Iterable[PartitionFence]) -> None:
    """Raise `FencedError` unless every fence carries its partition's
    current, unreleased token (one read for all of them)."""
    wanted = {counter_id(f.topic, f.partition): f for f in fences}
    if not wanted:
        return
    cursor = owners.find({"_id": {"$in": list(wanted)}}, {"token": 1, "expires_at_ms": 1})
    stored = {doc["_id"]: (int(doc["token"]), int(doc["expires_at_ms"])) async for doc in cursor}
    for doc_id, fence in wanted.items():
        check_fence(fence, stored.get(doc_id))


class OwnershipOps(GroupOffsets):
    # -- brokers -------------------------------------------------------------

    @translated
    async def register_broker(
        self, broker_id: str, address: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord:
        record = BrokerRecord(broker_id=broker_id, address=address, expires_at_ms=now_ms + ttl_ms)
        await self._col(BROKERS).replace_one(
            {"_id": broker_id},
            {"address": address, "expires_at_ms": record.expires_at_ms},
            upsert=True,
        )
        return record

    @translated
    async def heartbeat_broker(
        self, broker_id: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord | None:
        async with self._read_modify_write():
            doc = await self._col(BROKERS).find_one_and_update(
                {"_id": broker_id, "expires_at_ms": {"$gt": now_ms}},
                {"$set": {"expires_at_ms": now_ms + ttl_ms}},
                return_document=ReturnDocument.AFTER,
            )
        return None if doc is None else _broker(doc)

    @translated
    async def deregister_broker(self, broker_id: str) -> bool:
        result = await self._col(BROKERS).delete_one({"_id": broker_id})
        return result.deleted_count == 1

    @translated
    async def list_brokers(self, now_ms: int) -> list[BrokerRecord]:
        cursor = self._col(BROKERS).find({"expires_at_ms": {"$gt": now_ms}}).sort("_id", ASCENDING)
        return [_broker(doc) async for doc in cursor]

    # -- partition grants ------------------------------------------------------

    @translated
    async def acquire_partition(
        self, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        owners = self._col(PARTITION_OWNERS)
        doc_id = counter_id(topic, partition)
        async with self._read_modify_write():
            for _ in range(ACQUIRE_ROUNDS):
                doc = await owners.find_one({"_id": doc_id}, _GRANT_FIELDS)
                current = None if doc is None else _owner(doc)
                granted = next_grant(current, topic, partition, broker_id, now_ms + ttl_ms, now_ms)
                if granted is None or granted == current:
                    return granted
                if await self._store_grant(owners, doc_id, current, granted, now_ms):
                    return granted
            return None

    @staticmethod
    async def _store_grant(
        owners: Collection,
        doc_id: str,
        current: PartitionOwner | None,
        granted: PartitionOwner,
        now_ms: int,
    ) -> bool:
        """Write ``granted`` if the stored grant is still ``current``; False
        when another broker changed it first."""
        fields = {
            "topic": granted.topic,
            "partition": granted.partition,
            "broker_id": granted.broker_id,
            "token": granted.token,
            "expires_at_ms": granted.expires_at_ms,
        }
        entry = _grant_entry(granted, now_ms)
        if current is None:
            try:
                await owners.insert_one({"_id": doc_id, **fields, "grants": [entry]})
            except DuplicateKeyError:
                return False
            return True
        result = await owners.update_one(
            {
                "_id": doc_id,
                "token": current.token,
                "broker_id": current.broker_id,
                "expires_at_ms": current.expires_at_ms,
            },
            {
                "$set": fields,
                "$push": {"grants": {"$each": [entry], "$slice": -MAX_LOGGED_GRANTS}},
            },
        )
        return result.modified_count == 1

    async def _set_expiry(
        self,
        topic: str,
        partition: int,
        broker_id: str,
        token: int,
        expires_at_ms: int,
        live_after_ms: int,
    ) -> bool:
        """Set the expiry of ``broker_id``'s grant under ``token`` if it is
        still live after ``live_after_ms``."""
        async with self._read_modify_write():
            result = await self._col(PARTITION_OWNERS).update_one(
                {
                    "_id": counter_id(topic, partition),
                    "broker_id": broker_id,
                    "token": token,
                    "expires_at_ms": {"$gt": live_after_ms},
                },
                {"$set": {"expires_at_ms": expires_at_ms}},
            )
        return result.matched_count == 1

    @translated
    async def renew_partition(
        self, topic: str, partition: int, broker_id: str, token: int, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        expires = now_ms + ttl_ms
        if not await self._set_expiry(topic, partition, broker_id, token, expires, now_ms):
            return None
        return PartitionOwner(
            topic=topic,
            partition=partition,
            broker_id=broker_id,
            token=token,
            expires_at_ms=expires,
        )

    @translated
    async def release_partition(
        self, topic: str, partition: int, broker_id: str, token: int
    ) -> bool:
        return await self._set_expiry(
            topic, partition, broker_id, token, RELEASED_EXPIRY_MS, RELEASED_EXPIRY_MS
        )

    @translated
    async def list_partition_owners(self, topic: str | None = None) -> list[PartitionOwner]:
        query: Document = {} if topic is None else {"topic": topic}
        cursor = (
            self._col(PARTITION_OWNERS)
            .find(query, _GRANT_FIELDS)
            .sort([("topic", ASCENDING), ("partition", ASCENDING)])
        )
        return [_owner(doc) async for doc in cursor]

    @translated
    async def ownership_log(self, topic: str, partition: int) -> list[OwnershipGrant]:
        doc = await self._col(PARTITION_OWNERS).find_one(
            {"_id": counter_id(topic, partition)}, {"grants": 1}
        )
        entries: list[Document] = [] if doc is None else doc.get("grants", [])
        return [
            OwnershipGrant(
                topic=topic,
                partition=partition,
                token=int(entry["token"]),
                broker_id=entry["broker_id"],
                acquired_ms=int(entry["acquired_ms"]),
            )
            for entry in sorted(entries, key=lambda entry: int(entry["token"]))
        ]

    # -- fenced commits and the tokens of stored events -----------------------

    @translated
    async def commit_owned(
        self,
        group: str,
        topic: str,
        offsets: dict[int, int],
        *,
        tokens: Mapping[int, int],
        generation: int = 0,
    ) -> dict[int, CommittedOffset]:
        """See `OwnershipStore.commit_owned`. Without transactions the fence
        check and the commit are two steps: a takeover between them lets
        this one commit land; commits only move forward, so the new owner's
        next commit is unaffected."""
        await check_fences(
            self._col(PARTITION_OWNERS), commit_fences(group, topic, offsets, tokens)
        )
        return await self.commit(group, topic, offsets, generation=generation)

    @translated
    async def fence_tokens(
        self, topic: str, partition: int, from_offset: int, limit: int
    ) -> list[tuple[int, int | None]]:
        if limit <= 0:
            return []
        cursor = (
            self._col(EVENTS)
            .find(
                {"topic": topic, "partition": partition, "offset": {"$gte": from_offset}},
                {"_id": 0, "offset": 1, "fence_token": 1},
            )
            .sort("offset", ASCENDING)
            .limit(limit)
        )
        found: list[tuple[int, int | None]] = []
        async for doc in cursor:
            token = doc.get("fence_token")
            found.append((int(doc["offset"]), None if token is None else int(token)))
        return found
