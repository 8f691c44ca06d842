"""State shared by the concern mixins that make up `MongoStore`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from promethean.store.mongo.connection import Collection, MongoConnection


@dataclass
class PartitionSlot:
    """The in-process writer state of one (topic, partition): the lock that
    serializes its appends and the next offset, once loaded from the store."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_offset: int | None = None


class MongoBase:
    def __init__(self, url: str) -> None:
        self._conn = MongoConnection(url)
        self._slots: dict[tuple[str, int], PartitionSlot] = {}
        self._serialize_updates = False
        self._update_lock = asyncio.Lock()

    def _col(self, name: str) -> Collection:
        return self._conn.collection(name)

    def _slot(self, topic: str, partition: int) -> PartitionSlot:
        slot = self._slots.get((topic, partition))
        if slot is None:
            slot = self._slots[(topic, partition)] = PartitionSlot()
        return slot

    @contextlib.asynccontextmanager
    async def _read_modify_write(self) -> AsyncIterator[None]:
        """Wrap every conditional update, ``$inc`` or ``$max``.

        MongoDB applies each of them atomically per document, so this is a
        no-op there. On a server that reads and writes back instead
        (FerretDB, see `capabilities`), concurrent ones from this process are
        serialized, which keeps a single process correct; several processes
        on such a server can still interleave.
        """
        if not self._serialize_updates:
            yield
            return
        async with self._update_lock:
            yield
