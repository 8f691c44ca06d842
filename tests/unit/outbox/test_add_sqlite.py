"""`promethean.outbox.add` on SQLite: the row commits or rolls back with the
caller's transaction, in the shape the SQLite store reads."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from promethean import outbox
from promethean.errors import CapabilityError, FrameError
from promethean.store.records import OutboxStatus
from promethean.store.sqlite import SQLiteStore

TOPIC = "orders.placed"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bus.db"


@pytest.fixture
def conn(url: str) -> Iterator[sqlite3.Connection]:
    connection = outbox.connect_sqlite(url)
    connection.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)")
    yield connection
    connection.close()


@pytest.fixture
async def store(url: str, conn: sqlite3.Connection) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(url)
    await sqlite_store.open()
    yield sqlite_store
    await sqlite_store.close()


async def test_a_committed_row_is_what_the_store_reads(
    conn: sqlite3.Connection, store: SQLiteStore
) -> None:
    with conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO orders VALUES ('o-1')")
        row_id = await outbox.add(
            conn, TOPIC, {"total": 12, "$set": 1}, key="o-1", headers={"traceparent": "00-x"}
        )
    assert uuid.UUID(row_id).version == 4

    row = await store.outbox_get(row_id)
    assert row is not None
    assert row.topic == TOPIC
    assert row.payload == b'{"total":12,"$set":1}'
    assert (row.key, row.headers) == ("o-1", {"traceparent": "00-x"})
    assert (row.status, row.attempts, row.claimed_by) == (OutboxStatus.PENDING, 0, None)
    claimed = await store.outbox_claim("d", 10, 1000, row.created_ms)
    assert [r.id for r in claimed] == [row_id]


async def test_a_rolled_back_row_never_existed(
    conn: sqlite3.Connection, store: SQLiteStore
) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO orders VALUES ('o-2')")
    row_id = await outbox.add(conn, TOPIC, {"total": 1}, id="explicit-id")
    assert row_id == "explicit-id"
    conn.execute("ROLLBACK")

    assert await store.outbox_get("explicit-id") is None
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    assert (await store.outbox_stats(0)).pending == 0


async def test_outside_a_transaction_add_refuses_unless_non_atomic(
    conn: sqlite3.Connection, store: SQLiteStore
) -> None:
    with pytest.raises(outbox.TransactionRequiredError, match="needs an open transaction"):
        await outbox.add(conn, TOPIC, {"n": 1}, id="refused")
    assert await store.outbox_get("refused") is None
    assert issubclass(outbox.TransactionRequiredError, CapabilityError)

    await outbox.add(conn, TOPIC, {"n": 1}, id="on-its-own", non_atomic=True)
    assert await store.outbox_get("on-its-own") is not None


async def test_a_duplicate_id_is_refused_and_the_transaction_can_still_roll_back(
    conn: sqlite3.Connection, store: SQLiteStore
) -> None:
    with conn:
        conn.execute("BEGIN")
        await outbox.add(conn, TOPIC, {"n": 1}, id="same")
    conn.execute("BEGIN")
    with pytest.raises(outbox.DuplicateOutboxIdError, match="'same' already exists"):
        outbox.add_sync(conn, TOPIC, {"n": 2}, id="same")
    conn.execute("ROLLBACK")
    row = await store.outbox_get("same")
    assert row is not None
    assert row.payload == b'{"n":1}'


@pytest.mark.parametrize(
    ("topic", "payload", "key", "headers", "row_id"),
    [
        ("bad..topic", 1, None, None, None),
        (TOPIC, "x" * (600 * 1024), None, None, None),
        (TOPIC, 1, "k" * 2000, None, None),
        (TOPIC, 1, None, {f"h{n}": "v" for n in range(100)}, None),
        (TOPIC, 1, None, None, ""),
        (TOPIC, 1, None, None, "i" * 300),
    ],
)
def test_what_the_broker_would_refuse_is_refused_before_writing(
    conn: sqlite3.Connection,
    topic: str,
    payload: object,
    key: str | None,
    headers: dict[str, str] | None,
    row_id: str | None,
) -> None:
    conn.execute("BEGIN")
    with pytest.raises(FrameError):
        outbox.add_sync(conn, topic, payload, key=key, headers=headers, id=row_id)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_payload_bytes_must_be_json_and_pass_through_verbatim(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    outbox.add_sync(conn, TOPIC, b'{"a": 1}', id="raw")
    with pytest.raises(ValueError, match="JSON"):
        outbox.add_sync(conn, TOPIC, b"{not json", id="broken")
    conn.execute("COMMIT")
    assert conn.execute("SELECT payload FROM outbox").fetchall() == [(b'{"a": 1}',)]


def test_a_database_without_the_bus_tables_gets_a_clear_error(tmp_path: Path) -> None:
    bare = sqlite3.connect(tmp_path / "other.db", isolation_level=None)
    try:
        bare.execute("BEGIN")
        with pytest.raises(sqlite3.OperationalError, match="connect_sqlite"):
            outbox.add_sync(bare, TOPIC, 1)
        bare.execute("ROLLBACK")
    finally:
        bare.close()


def test_connect_sqlite_waits_for_the_write_lock(url: str, conn: sqlite3.Connection) -> None:
    pragmas = {
        name: conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "busy_timeout", "synchronous")
    }
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 10_000, "synchronous": 2}


async def test_add_rejects_what_is_neither_a_session_nor_a_connection() -> None:
    with pytest.raises(TypeError, match=r"AsyncClientSession or a sqlite3\.Connection"):
        await outbox.add(object(), TOPIC, 1)  # type: ignore[arg-type]
