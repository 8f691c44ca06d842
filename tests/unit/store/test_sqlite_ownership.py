"""Partition ownership on SQLite beyond the contract: databases made before
it existed, and brokers in separate store instances sharing one file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.unit.store.racing import T0, TTL, assert_one_grant_per_round

from promethean.store import NewEvent
from promethean.store.ownership_records import PartitionFence
from promethean.store.sqlite import SQLiteStore

OLD_EVENTS = """
CREATE TABLE events (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    id TEXT NOT NULL, ts INTEGER NOT NULL, payload BLOB NOT NULL, key TEXT,
    headers TEXT, caused_by TEXT, tags TEXT, sid TEXT
)
"""


def _event(event_id: str) -> NewEvent:
    return NewEvent(id=event_id, ts=T0, payload=b'{"n":1}')


async def test_a_database_made_before_ownership_gains_the_token_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(OLD_EVENTS)
        conn.execute(
            'INSERT INTO events (topic, partition, "offset", id, ts, payload)'
            " VALUES ('orders', 0, 0, 'old', ?, x'7b7d')",
            (T0,),
        )
        conn.commit()
    store = SQLiteStore(f"sqlite:///{path}")
    await store.open()
    try:
        grant = await store.acquire_partition("orders", 0, "broker-a", TTL, T0)
        assert grant is not None
        await store.append_owned([(PartitionFence("orders", 0, grant.token), [_event("new")])])

        assert await store.fence_tokens("orders", 0, 0, 10) == [(0, None), (1, grant.token)]
        assert [e.id for e in await store.read("orders", 0, 0, 10)] == ["old", "new"]
    finally:
        await store.close()


async def test_brokers_on_separate_connections_to_one_file_never_share_a_grant(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    stores = [SQLiteStore(url) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        await assert_one_grant_per_round(stores, rounds=5)
    finally:
        for store in stores:
            await store.close()
