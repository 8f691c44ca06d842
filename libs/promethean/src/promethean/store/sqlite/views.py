"""Materialized views written by projectors.

A row only ever moves to a higher offset; a delete keeps the row as a
tombstone (``deleted = 1``) so an older redelivered upsert cannot resurrect
the key. Both rules are one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` so the
check and the write are a single statement.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from promethean.store.records import ViewRow
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import ANY, to_json

_PUT: Final = (
    'INSERT INTO views (view, key, value, "offset", deleted) VALUES (?, ?, ?, ?, ?)'
    ' ON CONFLICT (view, key) DO UPDATE SET value = excluded.value, "offset" = excluded."offset",'
    ' deleted = excluded.deleted WHERE excluded."offset" > views."offset"'
)
_GET: Final = 'SELECT value, "offset" FROM views WHERE view = ? AND key = ? AND deleted = 0'
_LIST: Final = (
    'SELECT key, value, "offset" FROM views WHERE view = ? AND deleted = 0 ORDER BY key LIMIT ?'
)


def put_row(conn: sqlite3.Connection, view: str, key: str, text: str | None, offset: int) -> bool:
    deleted = 1 if text is None else 0
    return conn.execute(_PUT, (view, key, text, offset, deleted)).rowcount > 0


def get_row(conn: sqlite3.Connection, view: str, key: str) -> ViewRow | None:
    row = conn.execute(_GET, (view, key)).fetchone()
    return None if row is None else ViewRow(view, key, ANY.decode(row[0]), row[1])


def list_rows(conn: sqlite3.Connection, view: str, limit: int) -> list[ViewRow]:
    return [
        ViewRow(view, key, ANY.decode(value), offset)
        for key, value, offset in conn.execute(_LIST, (view, limit))
    ]


class ViewsMixin(SQLiteBase):
    async def view_upsert(self, view: str, key: str, value: Any, offset: int) -> bool:
        # Encoded here so a value JSON cannot hold fails in the caller's task.
        return await self._write(put_row, view, key, to_json(value), offset)

    async def view_delete(self, view: str, key: str, offset: int) -> bool:
        return await self._write(put_row, view, key, None, offset)

    async def view_get(self, view: str, key: str) -> ViewRow | None:
        return await self._read(get_row, view, key)

    async def view_list(self, view: str, limit: int = 1000) -> list[ViewRow]:
        if limit <= 0:
            return []
        return await self._read(list_rows, view, limit)
