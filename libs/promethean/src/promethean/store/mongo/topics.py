"""Topic configurations: one document per topic, ``_id`` = topic name."""

from __future__ import annotations

from typing import Any, Final

import msgspec
from pymongo.errors import DuplicateKeyError

from promethean.errors import StoreError
from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.collections import TOPIC_CONFIGS
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.records import TopicConfig

SHRINK: Final = (
    "topic {name!r} has {stored} partitions; partitions can grow but never shrink to {asked}"
)
CONTENDED: Final = "topic {name!r} config kept changing under {rounds} update attempts"
CAS_ROUNDS: Final = 5


def _document(config: TopicConfig) -> Document:
    fields: dict[str, Any] = msgspec.to_builtins(config)
    return {"_id": config.name, **fields}


def _config(doc: Document) -> TopicConfig:
    fields = {name: value for name, value in doc.items() if name != "_id"}
    return msgspec.convert(fields, TopicConfig)


class TopicOps(MongoBase):
    @translated
    async def create_topic(self, config: TopicConfig) -> TopicConfig:
        configs = self._col(TOPIC_CONFIGS)
        try:
            await configs.insert_one(_document(config))
        except DuplicateKeyError:
            stored = await configs.find_one({"_id": config.name})
            if stored is not None:
                return _config(stored)
            raise
        return config

    @translated
    async def put_topic_config(self, config: TopicConfig) -> TopicConfig:
        """Compare-and-set on the stored partition count, so a concurrent
        update can never slip a shrink past the check."""
        async with self._read_modify_write():
            configs = self._col(TOPIC_CONFIGS)
            for _ in range(CAS_ROUNDS):
                stored = await configs.find_one({"_id": config.name}, {"partitions": 1})
                if stored is None:
                    try:
                        await configs.insert_one(_document(config))
                    except DuplicateKeyError:
                        continue
                    return config
                if config.partitions < stored["partitions"]:
                    raise ValueError(
                        SHRINK.format(
                            name=config.name, stored=stored["partitions"], asked=config.partitions
                        )
                    )
                replaced = await configs.replace_one(
                    {"_id": config.name, "partitions": stored["partitions"]}, _document(config)
                )
                if replaced.matched_count == 1:
                    return config
            raise StoreError(CONTENDED.format(name=config.name, rounds=CAS_ROUNDS))

    @translated
    async def get_topic_config(self, name: str) -> TopicConfig | None:
        doc = await self._col(TOPIC_CONFIGS).find_one({"_id": name})
        return None if doc is None else _config(doc)

    @translated
    async def list_topics(self) -> list[TopicConfig]:
        cursor = self._col(TOPIC_CONFIGS).find({}).sort("_id", 1)
        return [_config(doc) async for doc in cursor]
