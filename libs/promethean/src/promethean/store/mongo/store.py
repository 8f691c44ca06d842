"""`MongoStore`: the storage port on MongoDB (or a wire-compatible server).

Each concern lives in its own mixin module (log reads, appends, maintenance,
groups, members, leases, topics, outbox, schemas, views); this class only
adds the lifecycle: connect, create indexes, probe capabilities, close.
"""

from __future__ import annotations

import asyncio
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase

from promethean.errors import StoreUnavailableError
from promethean.store.mongo.admin import AdminOps
from promethean.store.mongo.capabilities import probe_server
from promethean.store.mongo.collections import ensure_indexes
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.mongo.groups import GroupOffsets
from promethean.store.mongo.leases import LeaseOps
from promethean.store.mongo.maintenance import Maintenance
from promethean.store.mongo.members import GroupMembership
from promethean.store.mongo.outbox import OutboxOps
from promethean.store.mongo.ownership import OwnershipOps
from promethean.store.mongo.schemas import SchemaOps
from promethean.store.mongo.topics import TopicOps
from promethean.store.mongo.views import ViewOps
from promethean.store.records import StoreCapabilities

NOT_PROBED: Final = "mongodb store {url} is not open: capabilities are probed by open()"


class MongoStore(
    Maintenance,
    OwnershipOps,
    GroupOffsets,
    AdminOps,
    GroupMembership,
    LeaseOps,
    TopicOps,
    OutboxOps,
    SchemaOps,
    ViewOps,
):
    """The `Store` port on MongoDB through `pymongo.AsyncMongoClient`.

    ``url`` is ``mongodb://[user:pass@]host[:port][,…]/[db][?options]``; the
    database defaults to ``promethean``.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._capabilities: StoreCapabilities | None = None

    @property
    def url(self) -> str:
        return self._conn.masked_url

    @property
    def capabilities(self) -> StoreCapabilities:
        if self._capabilities is None:
            raise StoreUnavailableError(NOT_PROBED.format(url=self.url))
        return self._capabilities

    @property
    def database(self) -> AsyncDatabase[Document]:
        """The database handle (with the store's concerns), for inspection
        tools and tests; raises `StoreUnavailableError` before `open`."""
        return self._conn.db

    @translated
    async def open(self) -> None:
        self._conn.connect()
        self._update_lock = asyncio.Lock()  # bound to the loop that opens the store
        try:
            await self._conn.ping()
            await ensure_indexes(self._conn.db)
            traits = await probe_server(self._conn.db, self.url)
            self._capabilities = traits.capabilities
            self._serialize_updates = not traits.atomic_updates
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._slots.clear()
        await self._conn.close()

    async def ping(self) -> None:
        await self._conn.ping()

    def __repr__(self) -> str:
        return f"MongoStore({self.url!r})"
