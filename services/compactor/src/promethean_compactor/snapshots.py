"""Take and publish snapshots of topics whose config sets ``snapshot_every``.

The state is read from the store (after compaction it is small: about one
event per key); it is published through the client SDK like any other event,
so the broker assigns offsets and dedupes the derived ids. The record shape
is in `promethean_compactor.snapshot_format`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from promethean.store.port import Store
from promethean.store.records import TopicConfig
from promethean_compactor import snapshot_format as fmt

log = logging.getLogger("promethean.compactor.snapshots")

READ_PAGE = 5_000


class SnapshotSink(Protocol):
    """Where snapshot events go: the bus, in the service."""

    async def ensure_topic(self, topic: str) -> int:
        """Create ``topic`` with one partition unless it exists; its partition count."""
        ...

    async def publish(self, topic: str, payload: bytes, key: str, event_id: str) -> int:
        """Publish one event durably; its offset."""
        ...


async def latest_manifest(store: Store, topic: str) -> fmt.Manifest | None:
    event = await store.latest_by_key(fmt.snapshot_topic(topic), fmt.MANIFEST_KEY)
    if event is None:
        return None
    decoded = fmt.decode(event.payload)
    return decoded if isinstance(decoded, fmt.Manifest) else None


async def read_state(store: Store, topic: str, offsets: dict[int, int]) -> dict[str, fmt.Entry]:
    """Latest live value per key of ``topic`` up to ``offsets`` (tombstones drop keys)."""
    state: dict[str, fmt.Entry] = {}
    for partition, last in offsets.items():
        position = 0
        while position <= last:
            events = await store.read(topic, partition, position, READ_PAGE, to_offset=last)
            for event in events:
                if event.key is None:
                    continue
                if event.is_tombstone:
                    state.pop(event.key, None)
                else:
                    state[event.key] = fmt.Entry(
                        event.partition, event.offset, event.key, msgspec.Raw(event.payload)
                    )
            if len(events) < READ_PAGE:
                break
            position = events[-1].offset + 1
    return state


class Snapshots:
    def __init__(
        self,
        store: Store,
        sink: SnapshotSink,
        now_ms: Callable[[], int],
        *,
        chunk_bytes: int,
        confirm: Callable[[], Awaitable[None]],
    ) -> None:
        self._store = store
        self._sink = sink
        self._now_ms = now_ms
        self._chunk_bytes = chunk_bytes
        self._confirm = confirm

    async def due(self, config: TopicConfig) -> dict[int, int] | None:
        """The offsets to snapshot at when ``snapshot_every`` new events
        arrived since the latest manifest; None when not due."""
        every = config.snapshot_every
        if every is None or fmt.is_snapshot_topic(config.name):
            return None
        offsets = {
            p: await self._store.latest_offset(config.name, p) for p in range(config.partitions)
        }
        previous = await latest_manifest(self._store, config.name)
        new = sum(
            latest - (previous.offset_of(p) if previous else -1) for p, latest in offsets.items()
        )
        return offsets if new >= every else None

    async def take(self, config: TopicConfig, offsets: dict[int, int]) -> fmt.Manifest | None:
        target = fmt.snapshot_topic(config.name)
        partitions = await self._sink.ensure_topic(target)
        if partitions != 1:
            log.error(
                "snapshot topic must have one partition; snapshot skipped",
                extra={"topic": target, "partitions": partitions},
            )
            return None
        previous = await latest_manifest(self._store, config.name)
        state = await read_state(self._store, config.name, offsets)
        snap = fmt.snapshot_id(config.name, offsets)
        first_offset = -1
        seq = 0
        entries = sorted(state.values(), key=lambda e: (e.partition, e.offset))
        for seq, batch in enumerate(fmt.chunked(entries, self._chunk_bytes)):
            await self._confirm()
            chunk = fmt.Chunk(snap, config.name, seq, batch)
            offset = await self._sink.publish(
                target, fmt.encode(chunk), fmt.CHUNK_KEY, fmt.event_id(snap, str(seq))
            )
            if first_offset < 0:
                first_offset = offset
        chunks = seq + 1 if entries else 0
        manifest = fmt.Manifest(
            snapshot=snap,
            source=config.name,
            offsets={str(p): o for p, o in offsets.items()},
            chunks=chunks,
            keys=len(state),
            first_offset=first_offset,
            ts=self._now_ms(),
        )
        await self._confirm()
        await self._sink.publish(
            target, fmt.encode(manifest), fmt.MANIFEST_KEY, fmt.event_id(snap, "manifest")
        )
        if previous is not None and previous.first_offset > 0:
            # Keep the previous snapshot (a reader may be part-way through
            # it) and drop everything older.
            await self._confirm()
            await self._store.delete_below(target, 0, previous.first_offset)
        log.info(
            "snapshot published",
            extra={"topic": config.name, "keys": len(state), "chunks": chunks, "id": snap},
        )
        return manifest
