"""Topic configurations; partitions may grow, never shrink."""

from __future__ import annotations

import sqlite3
from typing import Final

import msgspec

from promethean.store.records import TopicConfig
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import to_json

_CONFIG: Final = msgspec.json.Decoder(TopicConfig)

_GET: Final = "SELECT config FROM topic_configs WHERE name = ?"
_LIST: Final = "SELECT config FROM topic_configs ORDER BY name"
_CREATE: Final = (
    "INSERT INTO topic_configs (name, partitions, config) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO NOTHING"
)
_PUT: Final = (
    "INSERT INTO topic_configs (name, partitions, config) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET partitions = excluded.partitions,"
    " config = excluded.config"
)


def get_config(conn: sqlite3.Connection, name: str) -> TopicConfig | None:
    row = conn.execute(_GET, (name,)).fetchone()
    return None if row is None else _CONFIG.decode(row[0])


def list_configs(conn: sqlite3.Connection) -> list[TopicConfig]:
    return [_CONFIG.decode(row[0]) for row in conn.execute(_LIST)]


def create_config(conn: sqlite3.Connection, config: TopicConfig) -> TopicConfig:
    conn.execute(_CREATE, (config.name, config.partitions, to_json(config)))
    stored = get_config(conn, config.name)
    return config if stored is None else stored


def put_config(conn: sqlite3.Connection, config: TopicConfig) -> TopicConfig:
    stored = get_config(conn, config.name)
    if stored is not None and config.partitions < stored.partitions:
        raise ValueError(
            f"topic {config.name!r} has {stored.partitions} partitions;"
            f" partitions can grow but not shrink (asked for {config.partitions})"
        )
    conn.execute(_PUT, (config.name, config.partitions, to_json(config)))
    return config


class TopicsMixin(SQLiteBase):
    async def create_topic(self, config: TopicConfig) -> TopicConfig:
        return await self._write(create_config, config)

    async def put_topic_config(self, config: TopicConfig) -> TopicConfig:
        return await self._write(put_config, config)

    async def get_topic_config(self, name: str) -> TopicConfig | None:
        return await self._read(get_config, name)

    async def list_topics(self) -> list[TopicConfig]:
        return await self._read(list_configs)
