"""`add`: record an event in the transactional outbox, in the caller's transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from promethean.outbox.errors import UNSUPPORTED_TARGET
from promethean.outbox.mongo import add_mongo
from promethean.outbox.rows import new_row
from promethean.outbox.sqlite import add_sqlite


async def add(
    transaction: AsyncClientSession | sqlite3.Connection,
    topic: str,
    payload: Any,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    id: str | None = None,
    non_atomic: bool = False,
    database: str | None = None,
) -> str:
    """Record ``payload`` for ``topic`` as part of the open transaction; returns the id.

    ``transaction`` is a pymongo `AsyncClientSession` inside
    ``start_transaction()``, or a ``sqlite3.Connection`` to the bus database
    inside ``BEGIN`` … ``COMMIT``. The row commits or rolls back with
    everything else the transaction wrote; the outbox-drainer publishes it
    afterwards with ``id`` (a new UUID by default), which the broker
    deduplicates on, so the event is stored once however often it is sent.

    Raises `FrameError` for what the broker would refuse (bad topic name,
    sizes), `TransactionRequiredError` outside a transaction and
    `CapabilityError` on a server without transactions (standalone MongoDB,
    FerretDB) unless ``non_atomic`` is set, and `DuplicateOutboxIdError` when
    ``id`` is already in the outbox. ``database`` names the MongoDB database
    of the bus when the client's URL names another one.
    """
    row = new_row(topic, payload, key=key, headers=headers, id=id)
    if isinstance(transaction, sqlite3.Connection):
        add_sqlite(transaction, row, non_atomic=non_atomic)
    elif isinstance(transaction, AsyncClientSession):
        await add_mongo(transaction, row, non_atomic=non_atomic, database=database)
    else:
        raise TypeError(UNSUPPORTED_TARGET.format(kind=type(transaction).__name__))
    return row.id


def add_sync(
    conn: sqlite3.Connection,
    topic: str,
    payload: Any,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    id: str | None = None,
    non_atomic: bool = False,
) -> str:
    """`add` for synchronous code on SQLite; same rules, same errors."""
    row = new_row(topic, payload, key=key, headers=headers, id=id)
    add_sqlite(conn, row, non_atomic=non_atomic)
    return row.id
