"""Tables and indexes, created idempotently on `open()`.

Table names follow the MongoDB collections. ``offset`` and ``group`` are SQL
keywords, so those columns are always written quoted. JSON-valued columns
(headers, tags, data, view values, ...) hold UTF-8 JSON *text*; payloads are
BLOBs holding the exact bytes the caller gave.
"""

from __future__ import annotations

import sqlite3
from typing import Final

SCHEMA_VERSION: Final = 1

STATEMENTS: Final = (
    """
    CREATE TABLE IF NOT EXISTS events (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        "offset" INTEGER NOT NULL,
        id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        payload BLOB NOT NULL,
        key TEXT,
        headers TEXT,
        caused_by TEXT,
        tags TEXT,
        sid TEXT
    )
    """,
    'CREATE UNIQUE INDEX IF NOT EXISTS events_position ON events (topic, partition, "offset")',
    "CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events (topic, id)",
    "CREATE INDEX IF NOT EXISTS events_ts ON events (topic, partition, ts)",
    'CREATE INDEX IF NOT EXISTS events_key ON events (topic, key, "offset")',
    """
    CREATE TABLE IF NOT EXISTS counters (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS group_offsets (
        "group" TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        "offset" INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        PRIMARY KEY ("group", topic, partition)
    ) WITHOUT ROWID
    """,
    'CREATE INDEX IF NOT EXISTS group_offsets_topic ON group_offsets (topic, "group")',
    """
    CREATE TABLE IF NOT EXISTS delivery_attempts (
        "group" TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        "offset" INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY ("group", topic, partition, "offset")
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS group_members (
        "group" TEXT NOT NULL,
        member_id TEXT NOT NULL,
        topics TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        instance_id TEXT,
        generation INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY ("group", member_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS group_state (
        "group" TEXT NOT NULL PRIMARY KEY,
        generation INTEGER NOT NULL,
        assignment TEXT NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS topic_configs (
        name TEXT NOT NULL PRIMARY KEY,
        partitions INTEGER NOT NULL,
        config TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id TEXT NOT NULL PRIMARY KEY,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        key TEXT,
        headers TEXT,
        claimed_by TEXT,
        lease_until_ms INTEGER,
        published_ms INTEGER,
        last_error TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_ms, created_ms)",
    "CREATE INDEX IF NOT EXISTS outbox_published ON outbox (status, published_ms)",
    """
    CREATE TABLE IF NOT EXISTS leases (
        name TEXT NOT NULL PRIMARY KEY,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS schemas (
        subject TEXT NOT NULL,
        version INTEGER NOT NULL,
        schema TEXT NOT NULL,
        id INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subject, version)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS schema_ids (
        id INTEGER NOT NULL PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        schema TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS schema_configs (
        subject TEXT NOT NULL PRIMARY KEY,
        compatibility TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS views (
        view TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        "offset" INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (view, key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS brokers (
        broker_id TEXT NOT NULL PRIMARY KEY,
        address TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS partition_owners (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        broker_id TEXT NOT NULL,
        token INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS ownership_log (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        token INTEGER NOT NULL,
        broker_id TEXT NOT NULL,
        acquired_ms INTEGER NOT NULL,
        PRIMARY KEY (topic, partition, token)
    ) WITHOUT ROWID
    """,
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and index that is missing (inside the caller's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)
    _add_schema_columns(conn)
    _add_event_fence_token(conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")


def _add_schema_columns(conn: sqlite3.Connection) -> None:
    """Databases made before schemas had ids and soft deletion gain the columns."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(schemas)")}
    if "id" not in columns:
        conn.execute("ALTER TABLE schemas ADD COLUMN id INTEGER NOT NULL DEFAULT 0")
    if "deleted" not in columns:
        conn.execute("ALTER TABLE schemas ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0")


def _add_event_fence_token(conn: sqlite3.Connection) -> None:
    """Events keep the ownership token they were appended under (NULL for
    appends without one); databases made before partition ownership gain
    the column."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "fence_token" not in columns:
        conn.execute("ALTER TABLE events ADD COLUMN fence_token INTEGER")
