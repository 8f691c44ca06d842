"""The MongoDB client of one store: URL parsing, concerns, collections, ping.

Every write that acknowledges a client waits for ``w: majority`` with the
journal (``j: true``), and reads use ``majority`` read concern, so nothing a
reader sees can be rolled back by a failover. Both are set once on the
database handle, so every collection inherits them.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from promethean.errors import StoreUnavailableError
from promethean.urls import DEFAULT_MONGO_DB, mask_url

Document = dict[str, Any]
Collection = AsyncCollection[Document]

ACK_WRITE_CONCERN: Final = WriteConcern(w="majority", j=True)
READ_CONCERN: Final = ReadConcern("majority")
NOT_OPEN: Final = "mongodb store {url} is not open: call `await store.open()` first"
UNREACHABLE: Final = "mongodb store {url} is unreachable: {error}"


class MongoConnection:
    """Holds the client once `connect` ran; before that every access raises
    `StoreUnavailableError` instead of handing out ``None``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None

    def connect(self) -> None:
        """Build the client (it connects lazily, on the first operation)."""
        if self._client is not None:
            return
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            self.url, retryWrites=True, connect=False
        )
        self._client = client
        self._db = client.get_database(
            client.get_default_database(DEFAULT_MONGO_DB).name,
            write_concern=ACK_WRITE_CONCERN,
            read_concern=READ_CONCERN,
        )

    @property
    def client(self) -> AsyncMongoClient[Document]:
        if self._client is None:
            raise StoreUnavailableError(NOT_OPEN.format(url=self.masked_url))
        return self._client

    @property
    def db(self) -> AsyncDatabase[Document]:
        if self._db is None:
            raise StoreUnavailableError(NOT_OPEN.format(url=self.masked_url))
        return self._db

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def collection(self, name: str) -> Collection:
        return self.db.get_collection(name)

    async def ping(self) -> None:
        try:
            await self.client.admin.command("ping")
        except PyMongoError as error:
            raise StoreUnavailableError(
                UNREACHABLE.format(url=self.masked_url, error=error)
            ) from error

    async def close(self) -> None:
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()
