"""The snapshot record: what the compactor publishes to ``<topic>.snapshot``.

A snapshot of topic T is the latest value of every live key of T as of an
offset per partition. It travels as events on ``T.snapshot`` (one partition,
so its events stay in order), all sharing one ``snapshot`` id:

* ``chunk`` events, key ``chunk``, ``seq`` 0..n-1, each holding entries
  ``{"partition", "offset", "key", "value"}`` (``value`` is the JSON payload
  as it was published);
* then one ``manifest`` event, key ``manifest``, naming the source topic,
  the per-partition ``offsets`` the snapshot covers (every offset ``<=`` it),
  the number of ``chunks`` and ``keys``, and ``first_offset``: where chunk 0
  sits in ``T.snapshot``.

A reader takes the latest manifest (``GET /latest-by-key?topic=T.snapshot&key=manifest``),
reads ``T.snapshot`` from ``first_offset`` and keeps the chunks of that
snapshot id, then reads T and applies only events above ``offsets[partition]``.
Event ids are derived from the snapshot id, itself derived from the source
topic and offsets, so a snapshot published twice (a compactor killed
mid-way) is stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import msgspec

SNAPSHOT_SUFFIX: Final = ".snapshot"
CHUNK_KEY: Final = "chunk"
MANIFEST_KEY: Final = "manifest"
ENTRY_OVERHEAD_BYTES: Final = 96
"""Room for an entry's field names, partition and offset in the JSON text."""


def snapshot_topic(topic: str) -> str:
    return topic + SNAPSHOT_SUFFIX


def is_snapshot_topic(topic: str) -> bool:
    return topic.endswith(SNAPSHOT_SUFFIX)


class Entry(msgspec.Struct, frozen=True):
    partition: int
    offset: int
    key: str
    value: msgspec.Raw


class Chunk(msgspec.Struct, frozen=True, tag="chunk", tag_field="kind"):
    snapshot: str
    source: str
    seq: int
    entries: list[Entry]


class Manifest(msgspec.Struct, frozen=True, tag="manifest", tag_field="kind"):
    snapshot: str
    source: str
    offsets: dict[str, int]
    """partition (as text, JSON keys are strings) → last offset covered."""
    chunks: int
    keys: int
    first_offset: int
    ts: int

    def offset_of(self, partition: int) -> int:
        return self.offsets.get(str(partition), -1)


SnapshotEvent = Chunk | Manifest
_decoder: Final = msgspec.json.Decoder(SnapshotEvent)
_encoder: Final = msgspec.json.Encoder()


def encode(event: SnapshotEvent) -> bytes:
    return _encoder.encode(event)


def decode(payload: bytes) -> SnapshotEvent:
    return _decoder.decode(payload)


def snapshot_id(source: str, offsets: Mapping[int, int]) -> str:
    """Deterministic: the same topic state always gets the same id."""
    text = source + "|" + ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def event_id(snapshot: str, part: str) -> str:
    return f"snap-{snapshot}-{part}"


def chunked(entries: Iterable[Entry], max_bytes: int) -> Iterator[list[Entry]]:
    """Group entries so each chunk's JSON stays under ``max_bytes`` (an entry
    larger than that gets a chunk of its own)."""
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        cost = len(entry.value) + len(entry.key) + ENTRY_OVERHEAD_BYTES
        if batch and size + cost > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += cost
    if batch:
        yield batch


class SnapshotReader:
    """Rebuilds state from a snapshot's events, in the order they were read.

    Feed it the events of ``T.snapshot`` from the manifest's ``first_offset``;
    `state` is ready once `complete`."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._seen: set[int] = set()
        self.state: dict[str, tuple[int, int, bytes]] = {}
        """key → (partition, offset, value JSON)."""

    def feed(self, payload: bytes) -> None:
        event = decode(payload)
        if not isinstance(event, Chunk) or event.snapshot != self.manifest.snapshot:
            return
        if event.seq in self._seen:
            return
        self._seen.add(event.seq)
        for entry in event.entries:
            self.state[entry.key] = (entry.partition, entry.offset, bytes(entry.value))

    @property
    def complete(self) -> bool:
        return len(self._seen) == self.manifest.chunks

    def covers(self, partition: int, offset: int) -> bool:
        """True when the event at (partition, offset) is already in the state."""
        return offset <= self.manifest.offset_of(partition)
