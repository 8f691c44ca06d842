"""Named leases with fencing tokens: one document per lease, ``_id`` = name.

A lease is live while ``now_ms < expires_at_ms``. Each transition is one
conditional ``find_one_and_update`` (or an insert guarded by ``_id``), so two
contenders can never both win; the token only grows.
"""

from __future__ import annotations

from typing import Final

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from promethean.errors import FencedError
from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.collections import LEASES
from promethean.store.mongo.connection import Collection, Document
from promethean.store.mongo.errors import translated
from promethean.store.records import Fence, Lease

FENCED: Final = (
    "lease {name!r} is held with token {current}; a write fenced with token {given} is refused"
)
NO_LEASE: Final = "lease {name!r} does not exist; a write fenced with token {given} is refused"
RELEASED_EXPIRY_MS: Final = 0
ACQUIRE_ROUNDS: Final = 3


async def check_fence(leases: Collection, fence: Fence) -> None:
    """Raise `FencedError` unless lease ``fence.name`` carries ``fence.token``."""
    doc = await leases.find_one({"_id": fence.name}, {"token": 1})
    if doc is None:
        raise FencedError(NO_LEASE.format(name=fence.name, given=fence.token))
    if doc["token"] != fence.token:
        raise FencedError(FENCED.format(name=fence.name, current=doc["token"], given=fence.token))


def _lease(doc: Document) -> Lease:
    return Lease(doc["_id"], doc["holder"], int(doc["token"]), int(doc["expires_at_ms"]))


class LeaseOps(MongoBase):
    @translated
    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        async with self._read_modify_write():
            leases = self._col(LEASES)
            expires = now_ms + ttl_ms
            for _ in range(ACQUIRE_ROUNDS):
                mine = await leases.find_one_and_update(
                    {"_id": name, "holder": holder},
                    {"$set": {"expires_at_ms": expires}},
                    return_document=ReturnDocument.AFTER,
                )
                if mine is not None:
                    return _lease(mine)
                taken = await leases.find_one_and_update(
                    {"_id": name, "expires_at_ms": {"$lte": now_ms}},
                    {"$set": {"holder": holder, "expires_at_ms": expires}, "$inc": {"token": 1}},
                    return_document=ReturnDocument.AFTER,
                )
                if taken is not None:
                    return _lease(taken)
                if await leases.find_one({"_id": name}, {"_id": 1}) is not None:
                    return None  # another holder's lease is live
                try:
                    await leases.insert_one(
                        {"_id": name, "holder": holder, "token": 1, "expires_at_ms": expires}
                    )
                except DuplicateKeyError:
                    continue  # created meanwhile: decide again against what is stored
                return Lease(name, holder, 1, expires)
            return None

    @translated
    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        async with self._read_modify_write():
            doc = await self._col(LEASES).find_one_and_update(
                {"_id": name, "holder": holder, "token": token},
                {"$set": {"expires_at_ms": now_ms + ttl_ms}},
                return_document=ReturnDocument.AFTER,
            )
            return None if doc is None else _lease(doc)

    @translated
    async def release_lease(self, name: str, holder: str, token: int) -> bool:
        async with self._read_modify_write():
            result = await self._col(LEASES).update_one(
                {"_id": name, "holder": holder, "token": token},
                {"$set": {"expires_at_ms": RELEASED_EXPIRY_MS}},
            )
            return result.matched_count == 1

    @translated
    async def get_lease(self, name: str) -> Lease | None:
        doc = await self._col(LEASES).find_one({"_id": name})
        return None if doc is None else _lease(doc)
