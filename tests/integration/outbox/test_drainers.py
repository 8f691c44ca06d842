"""Drainers as real processes beside a real broker, all on one SQLite file
(WAL): the application writes rows with `promethean.outbox`, the drainers
publish them, and the broker's log is checked for every id exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from promethean import outbox
from tests.fixtures.broker import FAST_ENV, BrokerFactory, BrokerProcess, http_get
from tests.integration.outbox.drainer_process import (
    DrainerFactory,
    logged_ids,
    read_db,
    wait_until,
)

TOPIC = "orders.placed"


def store_url(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "bus.db"
    return db, f"sqlite:///{db}"


def add_rows(conn: sqlite3.Connection, count: int, *, per_transaction: int = 1000) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, per_transaction):
        with conn:
            conn.execute("BEGIN")
            for n in range(start, min(count, start + per_transaction)):
                ids.append(outbox.add_sync(conn, TOPIC, {"n": n}, key=f"customer-{n % 50}"))
    return ids


def status_counts(db: Path) -> dict[str, int]:
    return {
        str(s): int(c)
        for s, c in read_db(db, "SELECT status, count(*) FROM outbox GROUP BY status")
    }


def all_published(db: Path, total: int) -> bool:
    return status_counts(db).get("published", 0) == total


def test_three_drainers_race_and_publish_each_of_10000_rows_once(
    tmp_path: Path, broker_process: BrokerFactory, drainer_process: DrainerFactory
) -> None:
    db, url = store_url(tmp_path)
    broker = broker_process(store_url=url)
    env = {"PROMETHEAN_OUTBOX_BATCH": "100"}
    drainers = [
        drainer_process(f"racer-{n}", store_url=url, bus_url=broker.url, env=env) for n in range(3)
    ]
    for drainer in drainers:
        drainer.wait_for("/healthz/ready")

    conn = outbox.connect_sqlite(url)
    try:
        ids = add_rows(conn, 10_000)
    finally:
        conn.close()
    wait_until(lambda: all_published(db, 10_000), 90, "10,000 rows marked published")

    logged = logged_ids(db, TOPIC)
    assert len(logged) == 10_000
    assert set(logged) == set(ids)
    claimers = {str(c) for (c,) in read_db(db, "SELECT DISTINCT claimed_by FROM outbox")}
    assert len(claimers) >= 2, f"only {claimers} took part in the race"
    assert claimers <= {d.name for d in drainers}
    # No lease lapsed, so each row was published by exactly one drainer.
    assert sum(d.metric("promethean_outbox_published_total") for d in drainers) == 10_000
    for drainer in drainers:
        mode_lines = [
            line for line in drainer.log_text().splitlines() if "polling the outbox" in line
        ]
        assert len(mode_lines) == 1, mode_lines
        assert "every 50 ms" in mode_lines[0]


@contextlib.contextmanager
def frozen(process: BrokerProcess) -> Iterator[None]:
    """SIGSTOP the broker: connections stay open, nothing is answered."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def test_rows_of_a_sigkilled_drainer_are_published_once_after_its_lease(
    tmp_path: Path, broker_process: BrokerFactory, drainer_process: DrainerFactory
) -> None:
    db, url = store_url(tmp_path)
    broker = broker_process(store_url=url)
    lease_ms = 3000
    victim = drainer_process(
        "victim",
        store_url=url,
        bus_url=broker.url,
        env={"PROMETHEAN_OUTBOX_BATCH": "1000", "PROMETHEAN_OUTBOX_LEASE_MS": str(lease_ms)},
    )
    victim.wait_for("/healthz/ready")
    held = (
        "SELECT id, lease_until_ms FROM outbox WHERE status = 'pending' AND claimed_by = 'victim'"
    )
    # With the broker frozen the victim claims a batch and can publish none
    # of it, however fast or slow the machine: the kill always finds rows
    # leased (no race between the victim's publishing and the test).
    with frozen(broker):
        conn = outbox.connect_sqlite(url)
        try:
            ids = add_rows(conn, 6000)
        finally:
            conn.close()
        wait_until(lambda: bool(read_db(db, held)), 30, "the victim to hold a claimed batch")
        victim.kill()
    leased = {str(row_id): int(str(until)) for row_id, until in read_db(db, held)}
    assert 0 < len(leased) <= 1000, "the victim's batch is left leased"
    assert status_counts(db) == {"pending": 6000}

    survivor = drainer_process("survivor", store_url=url, bus_url=broker.url)
    wait_until(lambda: all_published(db, 6000), 60, "every row marked published")

    rows = read_db(
        db,
        "SELECT id, claimed_by, published_ms FROM outbox"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(leased)),),
    )
    assert len(rows) == len(leased)
    for row_id, claimed_by, published_ms in rows:
        assert claimed_by == survivor.name
        assert int(str(published_ms)) >= leased[str(row_id)], "re-claimed before the lease lapsed"
    logged = logged_ids(db, TOPIC)
    assert len(logged) == 6000
    assert set(logged) == set(ids)


async def place_order_then_fail(conn: sqlite3.Connection, event_id: str) -> None:
    """``with conn:`` rolls back when the block raises."""
    with conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO orders VALUES ('o-raised', 20)")
        await outbox.add(conn, TOPIC, {"order": "o-raised"}, id=event_id)
        raise RuntimeError("payment declined")


async def test_an_aborted_transaction_leaves_no_event(
    tmp_path: Path, broker_process: BrokerFactory, drainer_process: DrainerFactory
) -> None:
    db, url = store_url(tmp_path)
    broker = broker_process(store_url=url)
    drainer = drainer_process("solo", store_url=url, bus_url=broker.url)
    conn = outbox.connect_sqlite(url)
    try:
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)")

        conn.execute("BEGIN")
        conn.execute("INSERT INTO orders VALUES ('o-rolled-back', 10)")
        rolled_back = await outbox.add(conn, TOPIC, {"order": "o-rolled-back"})
        conn.execute("ROLLBACK")

        raised = str(uuid.uuid4())
        with pytest.raises(RuntimeError, match="payment declined"):
            await place_order_then_fail(conn, raised)

        with conn:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO orders VALUES ('o-committed', 30)")
            committed = await outbox.add(conn, TOPIC, {"order": "o-committed"}, key="o-committed")
    finally:
        conn.close()

    wait_until(lambda: committed in logged_ids(db, TOPIC), 30, "the committed row's event")
    await asyncio.sleep(0.5)  # several more polls: nothing else may appear
    assert logged_ids(db, TOPIC) == [committed]
    assert read_db(db, "SELECT id FROM outbox") == [(committed,)]
    assert read_db(db, "SELECT id FROM orders") == [("o-committed",)]
    assert rolled_back != raised
    assert drainer.terminate() == 0


def test_rows_wait_while_the_broker_is_down_and_drain_when_it_returns(
    tmp_path: Path, broker_process: BrokerFactory, drainer_process: DrainerFactory
) -> None:
    db, url = store_url(tmp_path)
    broker = BrokerProcess(FAST_ENV, url, tmp_path)
    broker_process.started.append(broker)  # killed at teardown with the others
    drainer = drainer_process(
        "patient", store_url=url, bus_url=broker.url, env={"PROMETHEAN_OUTBOX_LEASE_MS": "3000"}
    )
    conn = outbox.connect_sqlite(url)
    try:
        first = add_rows(conn, 300)
        time.sleep(1.0)
        status, body = http_get(drainer.port, "/healthz/ready")
        assert status == 503
        assert "broker" in body["reasons"]
        assert status_counts(db) == {"pending": 300}
        assert read_db(db, "SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL") == [(0,)]

        broker.start()  # the broker comes up for the first time
        wait_until(lambda: all_published(db, 300), 30, "the first rows to drain")

        broker.kill()  # and goes away again, with the drainer connected
        second = add_rows(conn, 300)
        time.sleep(1.5)
        assert status_counts(db).get("published") == 300
        broker.start()
        wait_until(lambda: all_published(db, 600), 40, "the second rows to drain")
    finally:
        conn.close()

    logged = logged_ids(db, TOPIC)
    assert len(logged) == 600
    assert set(logged) == set(first + second)
    # An unreachable broker is not the row's fault: no attempt was counted.
    assert read_db(db, "SELECT count(*) FROM outbox WHERE attempts > 0") == [(0,)]
    assert drainer.metric("promethean_outbox_published_total") == 600
