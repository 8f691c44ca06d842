"""`SQLiteThread.run_write`: a small write commits on the caller's thread only
while the writer thread is idle and the write lock is free; otherwise it
goes to the thread, with the same outcome."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path

import pytest

from promethean.errors import StoreError
from promethean.store.sqlite.connection import Role, SQLiteThread, connect


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[SQLiteThread]:
    thread = SQLiteThread(tmp_path / "inline.db", Role.WRITER, max_pending=4)
    await thread.start()
    try:
        await thread.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
        yield thread
    finally:
        await thread.stop()


def _insert_on(threads: list[int]) -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        conn.execute("INSERT INTO t VALUES (1)")
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])

    return job


async def test_an_idle_writer_commits_a_small_write_on_the_callers_thread(
    writer: SQLiteThread,
) -> None:
    threads: list[int] = []
    assert await writer.run_write(_insert_on(threads), inline=True) == 1
    assert threads == [threading.get_ident()]
    assert await writer.run(lambda c: c.in_transaction) is False


async def test_a_write_not_allowed_inline_runs_on_the_thread(writer: SQLiteThread) -> None:
    threads: list[int] = []
    assert await writer.run_write(_insert_on(threads), inline=False) == 1
    assert threads != [threading.get_ident()]


async def test_a_busy_writer_thread_keeps_the_write(writer: SQLiteThread) -> None:
    gate = threading.Event()
    threads: list[int] = []
    try:
        slow = asyncio.create_task(writer.run(lambda c: gate.wait(10)))
        await asyncio.sleep(0)
        assert writer.pending == 1
        write = asyncio.create_task(writer.run_write(_insert_on(threads), inline=True))
        await asyncio.sleep(0.02)
        assert threads == []
        gate.set()
        await slow
        assert await write == 1
        assert threads != [threading.get_ident()]
    finally:
        gate.set()


async def test_a_write_lock_held_elsewhere_sends_the_write_to_the_thread(
    writer: SQLiteThread, tmp_path: Path
) -> None:
    threads: list[int] = []
    with closing(connect(tmp_path / "inline.db", Role.WRITER)) as other:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(writer.run_write(_insert_on(threads), inline=True))
        await asyncio.sleep(0.05)
        assert not write.done()
        other.execute("COMMIT")
    assert await asyncio.wait_for(write, timeout=5) == 1
    assert threads != [threading.get_ident()]


async def test_a_failed_inline_write_rolls_back_and_maps_to_store_error(
    writer: SQLiteThread,
) -> None:
    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO nowhere VALUES (1)")

    with pytest.raises(StoreError) as failed:
        await writer.run_write(half_done, inline=True)
    assert isinstance(failed.value.__cause__, sqlite3.Error)
    assert await writer.run(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0]) == 0


async def test_writes_as_fast_as_the_disk_takes_them_go_to_the_thread(
    writer: SQLiteThread,
) -> None:
    """Back to back, a write finds the last one ended less than its own
    duration ago (the disk is busy most of the time): the loop does not
    wait for the disk then. After a pause it does again."""
    here = threading.get_ident()
    threads: list[int] = []
    await writer.run_write(_insert_on(threads), inline=True)
    await writer.run_write(_insert_on(threads), inline=True)
    await asyncio.sleep(0.5)
    await writer.run_write(_insert_on(threads), inline=True)
    assert [t == here for t in threads] == [True, False, True]
