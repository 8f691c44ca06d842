"""The schema registry: versions of each subject, numbered from 1."""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from promethean.store.records import SchemaVersion
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import OBJECT, to_json

_LATEST: Final = (
    "SELECT version, schema FROM schemas WHERE subject = ? ORDER BY version DESC LIMIT 1"
)
_VERSION: Final = "SELECT version, schema FROM schemas WHERE subject = ? AND version = ?"
_INSERT: Final = "INSERT INTO schemas (subject, version, schema) VALUES (?, ?, ?)"


def get_version(
    conn: sqlite3.Connection, subject: str, version: int | None
) -> SchemaVersion | None:
    if version is None:
        row = conn.execute(_LATEST, (subject,)).fetchone()
    else:
        row = conn.execute(_VERSION, (subject, version)).fetchone()
    return None if row is None else SchemaVersion(subject, row[0], OBJECT.decode(row[1]))


def put_version(conn: sqlite3.Connection, subject: str, schema: dict[str, Any]) -> SchemaVersion:
    """Compare as decoded JSON, so key order and tuple-vs-list make no new version."""
    text = to_json(schema)
    normalized = OBJECT.decode(text)
    latest = get_version(conn, subject, None)
    if latest is not None and latest.schema == normalized:
        return latest
    version = 1 if latest is None else latest.version + 1
    conn.execute(_INSERT, (subject, version, text))
    return SchemaVersion(subject, version, normalized)


class SchemaRegistryMixin(SQLiteBase):
    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        return await self._write(put_version, subject, schema)

    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        return await self._read(get_version, subject, version)
