"""`add` on SQLite: one row in the bus database's ``outbox`` table, inside
the caller's transaction on its own ``sqlite3.Connection``.

The row is written by the very statement `SQLiteStore.outbox_insert` uses
(`promethean.store.sqlite.outbox.insert`). The application, the broker and
the drainers may all write this one file (WAL mode): every connection must
wait for the write lock instead of failing at once, which
`connect_sqlite` arranges (``busy_timeout``), as does Python's own
``sqlite3.connect`` (``timeout=5.0`` by default).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from promethean.outbox.errors import (
    DUPLICATE_ID,
    HOW_SQLITE,
    NO_OUTBOX_TABLE,
    NO_TRANSACTION,
    DuplicateOutboxIdError,
    TransactionRequiredError,
)
from promethean.store.records import NewOutboxRow
from promethean.store.sqlite.base import path_from_url
from promethean.store.sqlite.connection import BUSY_TIMEOUT_MS, Role, in_write_transaction
from promethean.store.sqlite.connection import connect as connect_store_file
from promethean.store.sqlite.ddl import create_schema
from promethean.store.sqlite.outbox import insert

MISSING_TABLE: Final = "no such table: outbox"


def connect_sqlite(url_or_path: str | Path) -> sqlite3.Connection:
    """A connection to the bus database for application code: WAL,
    ``synchronous=FULL``, ``busy_timeout`` as the store uses, and the bus
    tables created if missing. Transactions are explicit (``BEGIN`` /
    ``COMMIT``, or ``with conn:``, which commits or rolls back)."""
    path = (
        path_from_url(url_or_path)
        if isinstance(url_or_path, str) and "://" in url_or_path
        else Path(url_or_path).absolute()
    )
    conn = connect_store_file(path, Role.WRITER)
    try:
        in_write_transaction(conn, create_schema)
    except BaseException:
        conn.close()
        raise
    return conn


def add_sqlite(conn: sqlite3.Connection, row: NewOutboxRow, *, non_atomic: bool = False) -> None:
    """Write ``row`` in ``conn``'s open transaction (synchronous form of `add`)."""
    if not conn.in_transaction and not non_atomic:
        target = "this sqlite3 connection"
        raise TransactionRequiredError(NO_TRANSACTION.format(target=target, how=HOW_SQLITE))
    before = conn.total_changes
    try:
        insert(conn, [row])
    except sqlite3.OperationalError as error:
        if MISSING_TABLE in str(error):
            raise sqlite3.OperationalError(NO_OUTBOX_TABLE) from error
        raise
    if conn.total_changes == before:
        raise DuplicateOutboxIdError(DUPLICATE_ID.format(id=row.id, aborted=""))


__all__ = ["BUSY_TIMEOUT_MS", "add_sqlite", "connect_sqlite"]
