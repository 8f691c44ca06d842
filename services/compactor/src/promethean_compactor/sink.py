"""Snapshot events go out through the client SDK; the one-partition snapshot
topic is created through the broker's admin API."""

from __future__ import annotations

import msgspec

from promethean.client.admin import AdminClient
from promethean.client.port import BusClient
from promethean.errors import ConnectionLostError


class BusSink:
    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin
        self.bus: BusClient | None = None
        self._partitions: dict[str, int] = {}

    async def ensure_topic(self, topic: str) -> int:
        known = self._partitions.get(topic)
        if known is not None:
            return known
        existing = {t.name: t.partitions for t in await self._admin.topics()}
        if topic in existing:
            partitions = existing[topic]
        else:
            partitions = (await self._admin.put_topic(topic, partitions=1)).partitions
        self._partitions[topic] = partitions
        return partitions

    async def publish(self, topic: str, payload: bytes, key: str, event_id: str) -> int:
        if self.bus is None:
            raise ConnectionLostError("not connected to the broker yet")
        published = await self.bus.publish(topic, msgspec.Raw(payload), key=key, id=event_id)
        return published.offset
