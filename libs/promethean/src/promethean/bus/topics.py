"""Topic configs, cached; topics are created on first publish."""

from __future__ import annotations

from promethean.errors import FrameError
from promethean.frames.codes import ErrorCode
from promethean.names import DLQ_SUFFIX, is_valid_name
from promethean.store.port import Store
from promethean.store.records import TopicConfig


class TopicRegistry:
    def __init__(self, store: Store, default_partitions: int, default_max_attempts: int) -> None:
        self._store = store
        self._default_partitions = default_partitions
        self._default_max_attempts = default_max_attempts
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
            TopicConfig(
                name=topic,
                partitions=self._default_partitions,
                max_attempts=self._default_max_attempts,
                created_ms=now_ms,
            )
        )
        self._configs[topic] = config
        return config

    async def put(self, config: TopicConfig) -> TopicConfig:
        stored = await self._store.put_topic_config(config)
        self._configs[stored.name] = stored
        return stored
