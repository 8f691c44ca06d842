"""The schema registry: versions of each subject numbered from 1, global
ids in ``schema_ids`` (one per distinct schema, never reused), soft
deletion, and compatibility settings in ``schema_configs``."""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from promethean.store.fingerprint import schema_fingerprint
from promethean.store.records import SchemaVersion
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import OBJECT, to_json

_COLUMNS: Final = (
    "s.version, i.schema, s.id, s.deleted FROM schemas s JOIN schema_ids i ON i.id = s.id"
)
_LATEST: Final = (
    f"SELECT {_COLUMNS} WHERE s.subject = ? AND s.deleted = 0 ORDER BY s.version DESC LIMIT 1"
)
_VERSION: Final = f"SELECT {_COLUMNS} WHERE s.subject = ? AND s.version = ?"
_VERSIONS: Final = f"SELECT {_COLUMNS} WHERE s.subject = ? ORDER BY s.version"
_MAX_VERSION: Final = "SELECT MAX(version) FROM schemas WHERE subject = ?"
_SUBJECTS: Final = "SELECT DISTINCT subject FROM schemas ORDER BY subject"
_ID_OF: Final = "SELECT id FROM schema_ids WHERE fingerprint = ?"
_NEW_ID: Final = "INSERT INTO schema_ids (fingerprint, schema) VALUES (?, ?)"
_BY_ID: Final = (
    "SELECT i.schema FROM schema_ids i WHERE i.id = ? "
    "AND EXISTS (SELECT 1 FROM schemas s WHERE s.id = i.id)"
)
_INSERT: Final = "INSERT INTO schemas (subject, version, schema, id) VALUES (?, ?, '', ?)"
_SOFT_DELETE: Final = "UPDATE schemas SET deleted = 1 WHERE subject = ? AND version = ?"
_HARD_DELETE: Final = "DELETE FROM schemas WHERE subject = ? AND version = ?"
_GET_CONFIG: Final = "SELECT compatibility FROM schema_configs WHERE subject = ?"
_PUT_CONFIG: Final = (
    "INSERT INTO schema_configs (subject, compatibility) VALUES (?, ?) "
    "ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility"
)
_DROP_CONFIG: Final = "DELETE FROM schema_configs WHERE subject = ?"


def _row(subject: str, row: tuple[Any, ...]) -> SchemaVersion:
    return SchemaVersion(subject, row[0], OBJECT.decode(row[1]), row[2], bool(row[3]))


def get_version(
    conn: sqlite3.Connection, subject: str, version: int | None
) -> SchemaVersion | None:
    if version is None:
        row = conn.execute(_LATEST, (subject,)).fetchone()
    else:
        row = conn.execute(_VERSION, (subject, version)).fetchone()
    return None if row is None else _row(subject, row)


def _schema_id(conn: sqlite3.Connection, text: str, fingerprint: str) -> int:
    row = conn.execute(_ID_OF, (fingerprint,)).fetchone()
    if row is not None:
        return int(row[0])
    cursor = conn.execute(_NEW_ID, (fingerprint, text))
    return int(cursor.lastrowid or 0)


def put_version(conn: sqlite3.Connection, subject: str, schema: dict[str, Any]) -> SchemaVersion:
    """Compare as decoded JSON, so key order and tuple-vs-list make no new version."""
    text = to_json(schema)
    normalized = OBJECT.decode(text)
    schema_id = _schema_id(conn, text, schema_fingerprint(normalized))
    latest = get_version(conn, subject, None)
    if latest is not None and latest.id == schema_id:
        return latest
    highest = conn.execute(_MAX_VERSION, (subject,)).fetchone()[0]
    version = 1 if highest is None else int(highest) + 1
    conn.execute(_INSERT, (subject, version, schema_id))
    return SchemaVersion(subject, version, normalized, schema_id)


def list_versions(conn: sqlite3.Connection, subject: str) -> list[SchemaVersion]:
    return [_row(subject, row) for row in conn.execute(_VERSIONS, (subject,))]


def list_subjects(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute(_SUBJECTS)]


def by_id(conn: sqlite3.Connection, schema_id: int) -> dict[str, Any] | None:
    row = conn.execute(_BY_ID, (schema_id,)).fetchone()
    return None if row is None else OBJECT.decode(row[0])


def delete_version(conn: sqlite3.Connection, subject: str, version: int, permanent: bool) -> bool:
    cursor = conn.execute(_HARD_DELETE if permanent else _SOFT_DELETE, (subject, version))
    return cursor.rowcount > 0


def get_config(conn: sqlite3.Connection, subject: str) -> str | None:
    row = conn.execute(_GET_CONFIG, (subject,)).fetchone()
    return None if row is None else str(row[0])


def put_config(conn: sqlite3.Connection, subject: str, compatibility: str | None) -> None:
    if compatibility is None:
        conn.execute(_DROP_CONFIG, (subject,))
    else:
        conn.execute(_PUT_CONFIG, (subject, compatibility))


class SchemaRegistryMixin(SQLiteBase):
    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        return await self._write(put_version, subject, schema)

    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        return await self._read(get_version, subject, version)

    async def list_schema_versions(self, subject: str) -> list[SchemaVersion]:
        return await self._read(list_versions, subject)

    async def list_schema_subjects(self) -> list[str]:
        return await self._read(list_subjects)

    async def get_schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        return await self._read(by_id, schema_id)

    async def delete_schema_version(self, subject: str, version: int, *, permanent: bool) -> bool:
        return await self._write(delete_version, subject, version, permanent)

    async def get_schema_config(self, subject: str) -> str | None:
        return await self._read(get_config, subject)

    async def put_schema_config(self, subject: str, compatibility: str | None) -> None:
        await self._write(put_config, subject, compatibility)
