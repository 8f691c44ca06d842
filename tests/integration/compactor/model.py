"""Random keyed logs and the model they are checked against."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from promethean.partitioning import partition_for
from promethean.store.port import Store
from promethean.store.records import TOMBSTONE_PAYLOAD, NewEvent

APPEND_BATCH = 2_000


@dataclass
class KeyedModel:
    """key → (partition, offset, payload) of the newest event of each key."""

    latest: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)

    def live(self) -> dict[str, bytes]:
        return {k: v[2] for k, v in self.latest.items() if v[2] != TOMBSTONE_PAYLOAD}


def random_events(
    count: int, keys: int, partitions: int, *, seed: int, tombstone_share: float, ts: int
) -> list[tuple[int, NewEvent]]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        key = f"k{rng.randrange(keys)}"
        if rng.random() < tombstone_share:
            payload = TOMBSTONE_PAYLOAD
        else:
            payload = b'{"n":%d,"v":%d}' % (i, rng.randrange(1_000_000))
        event = NewEvent(id=f"e{seed}-{i}", ts=ts + i, payload=payload, key=key)
        events.append((partition_for(key, f"e{seed}-{i}", partitions), event))
    return events


async def append_all(
    store: Store, topic: str, events: list[tuple[int, NewEvent]], model: KeyedModel
) -> None:
    by_partition: dict[int, list[NewEvent]] = {}
    for partition, event in events:
        by_partition.setdefault(partition, []).append(event)
    for partition, batch in by_partition.items():
        for start in range(0, len(batch), APPEND_BATCH):
            chunk = batch[start : start + APPEND_BATCH]
            results = await store.append(topic, partition, chunk)
            for event, result in zip(chunk, results, strict=True):
                assert event.key is not None
                model.latest[event.key] = (partition, result.offset, event.payload)
