"""Topic configs, cached; topics are created on first publish.

System topics and DLQs are created with a default retention (the broker's
``PROMETHEAN_SYSTEM_RETENTION_MS`` and ``PROMETHEAN_DLQ_RETENTION_MS``), so
heartbeats, audit records and dead letters do not grow without end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from promethean.errors import FrameError
from promethean.frames.codes import ErrorCode
from promethean.names import DLQ_SUFFIX, is_valid_name
from promethean.store.port import Store
from promethean.store.records import TopicConfig

SYSTEM_PREFIX: Final = "system."
SYSTEM_TOPICS: Final = frozenset({"heartbeat.received"})


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    system_ms: int = 0
    dlq_ms: int = 0

    def for_topic(self, topic: str) -> int | None:
        """The retention a new ``topic`` gets, or None (kept forever)."""
        if topic.endswith(DLQ_SUFFIX):
            return self.dlq_ms or None
        if topic.startswith(SYSTEM_PREFIX) or topic in SYSTEM_TOPICS:
            return self.system_ms or None
        return None

    def apply(self, config: TopicConfig) -> TopicConfig:
        """``config`` with the default retention when it sets none."""
        if config.retention_ms is not None or config.retention_events is not None:
            return config
        retention = self.for_topic(config.name)
        if retention is None:
            return config
        return msgspec.structs.replace(config, retention_ms=retention)


class TopicRegistry:
    def __init__(
        self,
        store: Store,
        default_partitions: int,
        default_max_attempts: int,
        retention: DefaultRetention | None = None,
    ) -> None:
        self._store = store
        self._default_partitions = default_partitions
        self._default_max_attempts = default_max_attempts
        self.retention = retention or DefaultRetention()
        self._configs: dict[str, TopicConfig] = {}

    def cached(self, topic: str) -> TopicConfig | None:
        return self._configs.get(topic)

    async def get(self, topic: str) -> TopicConfig | None:
        config = self._configs.get(topic)
        if config is None:
            config = await self._store.get_topic_config(topic)
            if config is not None:
                self._configs[topic] = config
        return config

    async def ensure(self, topic: str, now_ms: int) -> TopicConfig:
        """The topic's config, creating the topic with defaults if it is new."""
        config = self._configs.get(topic)
        if config is not None:
            return config
        # A DLQ topic may exceed the name limit by its suffix: the user named
        # the original, the broker names the DLQ.
        if not is_valid_name(topic.removesuffix(DLQ_SUFFIX)):
            raise FrameError(f"invalid topic name {topic!r}", code=ErrorCode.BAD_NAME)
        config = await self._store.create_topic(
            self.retention.apply(
                TopicConfig(
                    name=topic,
                    partitions=self._default_partitions,
                    max_attempts=self._default_max_attempts,
                    created_ms=now_ms,
                )
            )
        )
        self._configs[topic] = config
        return config

    async def put(self, config: TopicConfig) -> TopicConfig:
        stored = await self._store.put_topic_config(config)
        self._configs[stored.name] = stored
        return stored

    async def backfill_retention(self) -> list[str]:
        """Give existing system topics and DLQs that keep everything the
        default retention (topics created before the defaults existed);
        returns their names."""
        changed = []
        for config in await self._store.list_topics():
            updated = self.retention.apply(config)
            if updated is not config:
                await self.put(updated)
                changed.append(config.name)
        return changed

    def forget(self, topic: str) -> None:
        self._configs.pop(topic, None)
