"""Brokers and per-partition ownership grants, held in memory.

Synchronous like the other tables: `MemoryStore` calls each method without
awaiting in between, so every transition is atomic.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from promethean.store.ownership_records import (
    RELEASED_EXPIRY_MS,
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)
from promethean.store.ownership_rules import check_fence, next_grant


class BrokerTable:
    def __init__(self) -> None:
        self._brokers: dict[str, BrokerRecord] = {}

    def register(self, broker_id: str, address: str, ttl_ms: int, now_ms: int) -> BrokerRecord:
        record = BrokerRecord(broker_id=broker_id, address=address, expires_at_ms=now_ms + ttl_ms)
        self._brokers[broker_id] = record
        return record

    def heartbeat(self, broker_id: str, ttl_ms: int, now_ms: int) -> BrokerRecord | None:
        current = self._brokers.get(broker_id)
        if current is None or now_ms >= current.expires_at_ms:
            return None
        return self.register(broker_id, current.address, ttl_ms, now_ms)

    def deregister(self, broker_id: str) -> bool:
        return self._brokers.pop(broker_id, None) is not None

    def live(self, now_ms: int) -> list[BrokerRecord]:
        return [
            record for _, record in sorted(self._brokers.items()) if now_ms < record.expires_at_ms
        ]

    def __len__(self) -> int:
        return len(self._brokers)


class OwnershipTable:
    """The current grant of each (topic, partition) and the log of grants."""

    def __init__(self) -> None:
        self._owners: dict[tuple[str, int], PartitionOwner] = {}
        self._log: dict[tuple[str, int], list[OwnershipGrant]] = {}

    def acquire(
        self, topic: str, partition: int, broker_id: str, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        current = self._owners.get((topic, partition))
        granted = next_grant(current, topic, partition, broker_id, now_ms + ttl_ms, now_ms)
        if granted is None or granted is current:
            return granted
        self._owners[(topic, partition)] = granted
        self._log.setdefault((topic, partition), []).append(
            OwnershipGrant(
                topic=topic,
                partition=partition,
                token=granted.token,
                broker_id=broker_id,
                acquired_ms=now_ms,
            )
        )
        return granted

    def _held(
        self, topic: str, partition: int, broker_id: str, token: int
    ) -> PartitionOwner | None:
        current = self._owners.get((topic, partition))
        if current is None or current.broker_id != broker_id or current.token != token:
            return None
        return current

    def renew(
        self, topic: str, partition: int, broker_id: str, token: int, ttl_ms: int, now_ms: int
    ) -> PartitionOwner | None:
        current = self._held(topic, partition, broker_id, token)
        if current is None or not current.live(now_ms):
            return None
        renewed = self._owners[(topic, partition)] = msgspec.structs.replace(
            current, expires_at_ms=now_ms + ttl_ms
        )
        return renewed

    def release(self, topic: str, partition: int, broker_id: str, token: int) -> bool:
        current = self._held(topic, partition, broker_id, token)
        if current is None or current.released:
            return False
        self._owners[(topic, partition)] = msgspec.structs.replace(
            current, expires_at_ms=RELEASED_EXPIRY_MS
        )
        return True

    def owners(self, topic: str | None) -> list[PartitionOwner]:
        return [
            owner for key, owner in sorted(self._owners.items()) if topic is None or key[0] == topic
        ]

    def log(self, topic: str, partition: int) -> list[OwnershipGrant]:
        return list(self._log.get((topic, partition), []))

    def check(self, fences: Iterable[PartitionFence]) -> None:
        """Raise `FencedError` unless every fence carries its partition's
        current, unreleased token."""
        for fence in fences:
            current = self._owners.get((fence.topic, fence.partition))
            check_fence(fence, None if current is None else (current.token, current.expires_at_ms))

    def __len__(self) -> int:
        return len(self._owners)
