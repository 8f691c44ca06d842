"""Operator actions: rewind a group, delete a group, delete a topic."""

from __future__ import annotations

import sqlite3
from typing import Final

from promethean.store.records import CommittedOffset
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.groups import read_commits

_PUT_COMMIT: Final = (
    'INSERT INTO group_offsets ("group", topic, partition, "offset", generation)'
    ' VALUES (?, ?, ?, ?, 0) ON CONFLICT ("group", topic, partition) DO UPDATE SET'
    ' "offset" = excluded."offset"'
)
_CLEAR_PARTITION_ATTEMPTS: Final = (
    'DELETE FROM delivery_attempts WHERE "group" = ? AND topic = ? AND partition = ?'
)
_DELETE_GROUP_OFFSETS: Final = 'DELETE FROM group_offsets WHERE "group" = ? AND topic = ?'
_DELETE_GROUP_ATTEMPTS: Final = 'DELETE FROM delivery_attempts WHERE "group" = ? AND topic = ?'
_DELETE_TOPIC: Final = (
    "DELETE FROM events WHERE topic = ?",
    "DELETE FROM counters WHERE topic = ?",
    "DELETE FROM group_offsets WHERE topic = ?",
    "DELETE FROM delivery_attempts WHERE topic = ?",
)
_DELETE_CONFIG: Final = "DELETE FROM topic_configs WHERE name = ?"


def reset_offsets(
    conn: sqlite3.Connection, group: str, topic: str, offsets: dict[int, int]
) -> dict[int, CommittedOffset]:
    conn.executemany(_PUT_COMMIT, [(group, topic, p, o) for p, o in offsets.items()])
    conn.executemany(_CLEAR_PARTITION_ATTEMPTS, [(group, topic, p) for p in offsets])
    rows = read_commits(conn, group, topic)
    return {p: rows[p] for p in offsets}


def remove_group(conn: sqlite3.Connection, group: str, topic: str) -> bool:
    removed = conn.execute(_DELETE_GROUP_OFFSETS, (group, topic)).rowcount
    removed += conn.execute(_DELETE_GROUP_ATTEMPTS, (group, topic)).rowcount
    return removed > 0


def remove_topic(conn: sqlite3.Connection, topic: str) -> bool:
    for statement in _DELETE_TOPIC:
        conn.execute(statement, (topic,))
    return conn.execute(_DELETE_CONFIG, (topic,)).rowcount > 0


class AdminMixin(SQLiteBase):
    async def reset_commits(
        self, group: str, topic: str, offsets: dict[int, int]
    ) -> dict[int, CommittedOffset]:
        return await self._write(reset_offsets, group, topic, dict(offsets))

    async def delete_group(self, group: str, topic: str) -> bool:
        return await self._write(remove_group, group, topic)

    async def delete_topic(self, topic: str) -> bool:
        return await self._write(remove_topic, topic)
