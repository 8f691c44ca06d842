"""How the drain loop learns that rows arrived: a MongoDB change stream on
``outbox`` when the store offers one, else polling every
``PROMETHEAN_OUTBOX_POLL_MS``.

Either way the loop also looks every ``PROMETHEAN_OUTBOX_POLL_MS``: a
retry whose backoff ended and a lease that lapsed produce no change event.
A change stream that breaks is reopened; meanwhile polling carries on, so a
broken stream costs latency, never rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final, Protocol

from promethean.store.port import Store

log = logging.getLogger("promethean.outbox_drainer")

REOPEN_DELAY_S: Final = 1.0
OUTBOX_COLLECTION: Final = "outbox"
INSERTS: Final = [{"$match": {"operationType": {"$in": ["insert", "replace"]}}}]


class Notifier(Protocol):
    wake: asyncio.Event
    mode: str

    def describe(self, poll_ms: int) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class PollingNotifier:
    """Nothing wakes the loop early; it looks every poll interval."""

    mode = "polling"

    def __init__(self, reason: str) -> None:
        self.wake = asyncio.Event()
        self.reason = reason

    def describe(self, poll_ms: int) -> str:
        return f"polling the outbox every {poll_ms} ms ({self.reason})"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class ChangeStreamNotifier:
    """Wakes the loop on every insert into ``outbox``."""

    mode = "change-stream"

    def __init__(self, collection: Any) -> None:
        self.wake = asyncio.Event()
        self._collection = collection
        self._task: asyncio.Task[None] | None = None

    def describe(self, poll_ms: int) -> str:
        return (
            "watching the outbox by MongoDB change stream "
            f"(and sweeping every {poll_ms} ms for due retries and lapsed leases)"
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="outbox-change-stream")

    async def _watch(self) -> None:
        while True:
            try:
                stream = await self._collection.watch(INSERTS)
                try:
                    self.wake.set()  # rows inserted before the stream opened
                    async for _change in stream:
                        self.wake.set()
                finally:
                    await stream.close()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "outbox change stream broke; polling until it reopens",
                    extra={"error": repr(error)},
                )
            await asyncio.sleep(REOPEN_DELAY_S)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def choose_notifier(store: Store) -> Notifier:
    capabilities = store.capabilities
    if not capabilities.change_streams:
        reason = capabilities.detail or "the store has no change streams"
        return PollingNotifier(f"no change streams: {reason}")
    from promethean.store.mongo import MongoStore

    if not isinstance(store, MongoStore):
        return PollingNotifier(f"{type(store).__name__} has no change streams")
    return ChangeStreamNotifier(store.database.get_collection(OUTBOX_COLLECTION))
