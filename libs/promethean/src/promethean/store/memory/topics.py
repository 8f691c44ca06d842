"""Topic configurations held in memory. `TopicConfig` holds nothing mutable,
so records are shared with callers as they are."""

from __future__ import annotations

from promethean.store.records import TopicConfig

SHRINK_REFUSED = "topic {name!r} has {stored} partitions; it cannot shrink to {given}"


class TopicTable:
    def __init__(self) -> None:
        self._configs: dict[str, TopicConfig] = {}

    def create(self, config: TopicConfig) -> TopicConfig:
        return self._configs.setdefault(config.name, config)

    def put(self, config: TopicConfig) -> TopicConfig:
        stored = self._configs.get(config.name)
        if stored is not None and config.partitions < stored.partitions:
            raise ValueError(
                SHRINK_REFUSED.format(
                    name=config.name, stored=stored.partitions, given=config.partitions
                )
            )
        self._configs[config.name] = config
        return config

    def delete(self, name: str) -> bool:
        return self._configs.pop(name, None) is not None

    def get(self, name: str) -> TopicConfig | None:
        return self._configs.get(name)

    def list(self) -> list[TopicConfig]:
        return [self._configs[name] for name in sorted(self._configs)]

    def __len__(self) -> int:
        return len(self._configs)
