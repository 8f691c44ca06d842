"""Consumer-group progress: committed offsets (CAS on generation) and
durable delivery-attempt counters."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from promethean.errors import StaleGenerationError
from promethean.store.records import CommittedOffset
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import to_json

_COMMITS: Final = (
    'SELECT partition, "offset", generation FROM group_offsets WHERE "group" = ? AND topic = ?'
)
_PUT_COMMIT: Final = (
    'INSERT INTO group_offsets ("group", topic, partition, "offset", generation)'
    ' VALUES (?, ?, ?, ?, ?) ON CONFLICT ("group", topic, partition) DO UPDATE SET'
    ' "offset" = excluded."offset", generation = excluded.generation'
)
_GROUPS_FOR_TOPIC: Final = (
    'SELECT DISTINCT "group" FROM group_offsets WHERE topic = ? ORDER BY "group"'
)
_ADD_ATTEMPT: Final = (
    'INSERT INTO delivery_attempts ("group", topic, partition, "offset", attempts)'
    ' VALUES (?, ?, ?, ?, 1) ON CONFLICT ("group", topic, partition, "offset")'
    " DO UPDATE SET attempts = attempts + 1"
)
_ATTEMPTS_OF: Final = (
    'SELECT "offset", attempts FROM delivery_attempts'
    ' WHERE "group" = ? AND topic = ? AND partition = ?'
    ' AND "offset" IN (SELECT value FROM json_each(?))'
)
_ATTEMPTS_FROM: Final = (
    'SELECT "offset", attempts FROM delivery_attempts'
    ' WHERE "group" = ? AND topic = ? AND partition = ? AND "offset" >= ?'
)
_CLEAR_ATTEMPTS: Final = (
    'DELETE FROM delivery_attempts WHERE "group" = ? AND topic = ? AND partition = ?'
    ' AND "offset" <= ?'
)


def read_commits(conn: sqlite3.Connection, group: str, topic: str) -> dict[int, CommittedOffset]:
    return {
        partition: CommittedOffset(partition, offset, generation)
        for partition, offset, generation in conn.execute(_COMMITS, (group, topic))
    }


def commit_offsets(
    conn: sqlite3.Connection, group: str, topic: str, offsets: dict[int, int], generation: int
) -> dict[int, CommittedOffset]:
    stored = read_commits(conn, group, topic)
    for partition in offsets:
        held = stored.get(partition)
        if held is not None and held.generation > generation:
            raise StaleGenerationError(
                f"group {group!r} topic {topic!r} partition {partition} is at generation"
                f" {held.generation}; the commit carried {generation}"
            )
    result: dict[int, CommittedOffset] = {}
    for partition, offset in offsets.items():
        held = stored.get(partition)
        kept = offset if held is None else max(held.offset, offset)
        result[partition] = CommittedOffset(partition, kept, generation)
    conn.executemany(
        _PUT_COMMIT,
        [(group, topic, row.partition, row.offset, row.generation) for row in result.values()],
    )
    return result


def topic_groups(conn: sqlite3.Connection, topic: str) -> list[str]:
    return [row[0] for row in conn.execute(_GROUPS_FOR_TOPIC, (topic,))]


def count_attempts(
    conn: sqlite3.Connection, group: str, topic: str, partition: int, offsets: Sequence[int]
) -> dict[int, int]:
    if not offsets:
        return {}
    conn.executemany(_ADD_ATTEMPT, [(group, topic, partition, offset) for offset in offsets])
    params = (group, topic, partition, to_json(list(offsets)))
    return {offset: attempts for offset, attempts in conn.execute(_ATTEMPTS_OF, params)}


def read_attempts(
    conn: sqlite3.Connection, group: str, topic: str, partition: int, from_offset: int
) -> dict[int, int]:
    params = (group, topic, partition, from_offset)
    return {offset: attempts for offset, attempts in conn.execute(_ATTEMPTS_FROM, params)}


def remove_attempts(
    conn: sqlite3.Connection, group: str, topic: str, partition: int, up_to: int
) -> None:
    conn.execute(_CLEAR_ATTEMPTS, (group, topic, partition, up_to))


class GroupOffsetsMixin(SQLiteBase):
    async def get_commits(self, group: str, topic: str) -> dict[int, CommittedOffset]:
        return await self._read(read_commits, group, topic)

    async def commit(
        self, group: str, topic: str, offsets: dict[int, int], *, generation: int = 0
    ) -> dict[int, CommittedOffset]:
        return await self._write(commit_offsets, group, topic, dict(offsets), generation)

    async def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        return await self._write(count_attempts, group, topic, partition, list(offsets))

    async def get_attempts(
        self, group: str, topic: str, partition: int, from_offset: int
    ) -> dict[int, int]:
        return await self._read(read_attempts, group, topic, partition, from_offset)

    async def clear_attempts(self, group: str, topic: str, partition: int, up_to: int) -> None:
        await self._write(remove_attempts, group, topic, partition, up_to)

    async def groups_for_topic(self, topic: str) -> list[str]:
        return await self._read(topic_groups, topic)
