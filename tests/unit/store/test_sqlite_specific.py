"""Behaviour of the SQLite adapter that the cross-adapter contract cannot see:
pragmas, files on disk, threads, durability across restarts and kills."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from promethean.errors import StoreError, StoreUnavailableError
from promethean.store import Fence, NewEvent, StoreCapabilities, open_store
from promethean.store.sqlite import SQLiteStore
from promethean.store.sqlite.connection import Role, SQLiteThread, in_write_transaction

SYNCHRONOUS_FULL = 2


def _event(event_id: str, *, payload: bytes = b'{"n":1}', key: str | None = None) -> NewEvent:
    return NewEvent(id=event_id, ts=1_700_000_000_000, payload=payload, key=key)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(_url(tmp_path / "bus.db"))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


# -- URL and files -----------------------------------------------------------


def test_factory_builds_sqlite_store_with_capabilities(tmp_path: Path) -> None:
    url = _url(tmp_path / "bus.db")
    built = open_store(url)
    assert isinstance(built, SQLiteStore)
    assert built.url == url
    assert built.capabilities == StoreCapabilities(
        transactions=True, change_streams=False, detail="sqlite"
    )


def test_absolute_url_has_four_slashes(tmp_path: Path) -> None:
    assert str(tmp_path).startswith("/")
    assert SQLiteStore(f"sqlite:///{tmp_path}/x.db").path == tmp_path / "x.db"
    assert SQLiteStore("sqlite:///rel/x.db").path == Path.cwd() / "rel" / "x.db"


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///", "sqlite:///dir/", "sqlite:///:memory:", "sqlite://host/x.db"],
)
def test_urls_that_name_no_file_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite URL"):
        SQLiteStore(url)


async def test_open_creates_file_under_missing_nested_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "bus.db"
    nested = SQLiteStore(_url(path))
    await nested.open()
    try:
        await nested.append("t", 0, [_event("e1")])
    finally:
        await nested.close()
    assert path.is_file()


async def test_relative_url_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SQLiteStore("sqlite:///.promethean/bus.db")
    await relative.open()
    await relative.close()
    assert (tmp_path / ".promethean" / "bus.db").is_file()


async def test_file_that_is_not_a_database_fails_open_with_store_error(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    path.write_bytes(b"this is not a sqlite database, just some text " * 100)
    broken = SQLiteStore(_url(path))
    with pytest.raises(StoreError):
        await broken.open()
    with pytest.raises(StoreUnavailableError):
        await broken.ping()


async def test_unusable_directory_fails_open_as_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    blocked = SQLiteStore(_url(blocker / "bus.db"))
    with pytest.raises(StoreUnavailableError, match="cannot use"):
        await blocked.open()


async def test_ping_reports_a_database_file_deleted_underneath(store: SQLiteStore) -> None:
    await store.ping()
    store.path.unlink()
    with pytest.raises(StoreUnavailableError, match="no longer exists"):
        await store.ping()


# -- pragmas and tables --------------------------------------------------------


async def test_both_connections_use_wal_and_synchronous_full(store: SQLiteStore) -> None:
    pragmas = await store.connection_pragmas()
    for role in ("writer", "reader"):
        assert pragmas[role]["journal_mode"] == "wal"
        assert pragmas[role]["synchronous"] == SYNCHRONOUS_FULL
        assert isinstance(pragmas[role]["busy_timeout"], int)
        assert pragmas[role]["busy_timeout"] >= 1000
    assert pragmas["reader"]["query_only"] == 1
    assert pragmas["writer"]["query_only"] == 0


async def test_tables_and_indexes_carry_the_collection_names(store: SQLiteStore) -> None:
    with closing(sqlite3.connect(store.path)) as raw:
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        unique = {
            row[1]
            for row in raw.execute("PRAGMA index_list(events)")
            if row[2]  # unique
        }
    assert {
        "events",
        "counters",
        "group_offsets",
        "delivery_attempts",
        "group_members",
        "group_state",
        "topic_configs",
        "outbox",
        "leases",
        "schemas",
        "views",
    } <= names
    assert {"events_position", "events_id"} <= unique
    assert {"events_ts", "events_key"} <= names
    assert set((await store.stats()).keys()) >= {"events", "counters", "group_state", "views"}


async def test_open_is_idempotent_on_an_existing_file(tmp_path: Path) -> None:
    url = _url(tmp_path / "bus.db")
    for _ in range(3):
        again = SQLiteStore(url)
        await again.open()
        await again.open()
        await again.append("t", 0, [_event(f"e{_}")])
        await again.close()
    reopened = SQLiteStore(url)
    await reopened.open()
    try:
        assert await reopened.latest_offset("t", 0) == 2
    finally:
        await reopened.close()


async def test_payload_is_a_blob_and_json_columns_are_text(store: SQLiteStore) -> None:
    payload = b'{ "$set" : {"a.b": 1},  "x":[1, 2] }'
    await store.append(
        "t", 0, [NewEvent(id="e", ts=1, payload=payload, headers={"h": "v"}, tags=["x"])]
    )
    with closing(sqlite3.connect(store.path)) as raw:
        row = raw.execute(
            "SELECT typeof(payload), payload, typeof(headers), json_valid(headers),"
            " typeof(tags) FROM events"
        ).fetchone()
    assert row == ("blob", payload, "text", 1, "text")
    (stored,) = await store.read("t", 0, 0, 10)
    assert stored.payload == payload


async def test_client_strings_are_data_never_sql(store: SQLiteStore) -> None:
    hostile = "x'); DROP TABLE events; --"
    await store.append("t", 0, [_event(hostile, key=hostile)])
    header_filtered = await store.read("t", 0, 0, 10, header=(hostile, "v"))
    assert header_filtered == []
    found = await store.latest_by_key("t", hostile)
    assert found is not None
    assert found.id == hostile
    assert await store.find_ids("t", [hostile, "' OR 1=1 --"]) == {hostile: (0, 0)}
    assert (await store.stats())["events"] == 1


# -- lifecycle -----------------------------------------------------------------


async def test_ping_and_operations_refuse_before_open_and_after_close(tmp_path: Path) -> None:
    lifecycle = SQLiteStore(_url(tmp_path / "bus.db"))
    with pytest.raises(StoreUnavailableError):
        await lifecycle.ping()
    with pytest.raises(StoreUnavailableError):
        await lifecycle.latest_offset("t", 0)
    await lifecycle.open()
    await lifecycle.ping()
    await lifecycle.close()
    with pytest.raises(StoreUnavailableError):
        await lifecycle.ping()
    with pytest.raises(StoreUnavailableError):
        await lifecycle.append("t", 0, [_event("late")])
    await lifecycle.close()  # closing twice is harmless


async def test_close_stops_the_sqlite_threads(tmp_path: Path) -> None:
    def sqlite_threads() -> int:
        return sum(t.name.startswith("promethean-sqlite-") for t in threading.enumerate())

    before = sqlite_threads()
    lifecycle = SQLiteStore(_url(tmp_path / "bus.db"))
    await lifecycle.open()
    assert sqlite_threads() == before + 2
    await lifecycle.close()
    assert sqlite_threads() == before


async def test_close_finishes_writes_already_submitted(tmp_path: Path) -> None:
    url = _url(tmp_path / "bus.db")
    first = SQLiteStore(url)
    await first.open()
    writes = [asyncio.create_task(first.append("t", 0, [_event(f"e{i}")])) for i in range(20)]
    await asyncio.sleep(0)  # let every task submit its job
    await first.close()
    results = await asyncio.gather(*writes)
    assert sorted(r[0].offset for r in results) == list(range(20))


# -- durability ----------------------------------------------------------------


async def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    url = _url(tmp_path / "bus.db")
    first = SQLiteStore(url)
    await first.open()
    await first.append("t", 0, [_event(f"e{i}", key="k") for i in range(5)])
    await first.delete_below("t", 0, 5)
    await first.commit("g", "t", {0: 4}, generation=3)
    lease = await first.acquire_lease("owner", "me", 10_000, 0)
    await first.view_upsert("v", "k", {"state": "up"}, 7)
    await first.close()

    second = SQLiteStore(url)
    await second.open()
    try:
        assert await second.count_events("t") == 0
        assert await second.latest_offset("t", 0) == 4  # the counter outlived the events
        (appended,) = await second.append("t", 0, [_event("after")])
        assert appended.offset == 5
        commits = await second.get_commits("g", "t")
        assert (commits[0].offset, commits[0].generation) == (4, 3)
        assert await second.get_lease("owner") == lease
        row = await second.view_get("v", "k")
        assert row is not None
        assert row.value == {"state": "up"}
    finally:
        await second.close()


_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from promethean.store.records import NewEvent
    from promethean.store.sqlite import SQLiteStore

    async def main() -> None:
        store = SQLiteStore(sys.argv[1])
        await store.open()
        for batch in range(5):
            events = [
                NewEvent(id=f"b{batch}-{i}", ts=batch, payload=b'{"i":%d}' % i)
                for i in range(100)
            ]
            await store.append("t", 0, events)
            print(f"acked {batch}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close(), no checkpoint

    asyncio.run(main())
    """
)


async def test_acknowledged_appends_survive_a_killed_process(tmp_path: Path) -> None:
    url = _url(tmp_path / "bus.db")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _KILLED_WRITER,
        url,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    acked = stdout.decode().split()
    assert acked.count("acked") == 5
    assert (tmp_path / "bus.db-wal").exists()  # the kill left the WAL un-checkpointed

    reopened = SQLiteStore(url)
    await reopened.open()
    try:
        assert await reopened.latest_offset("t", 0) == 499
        events = await reopened.read("t", 0, 0, 1000)
        assert [e.offset for e in events] == list(range(500))
        assert events[-1].payload == b'{"i":99}'
    finally:
        await reopened.close()


# -- threads, concurrency, bounds ------------------------------------------------


async def test_large_append_does_not_block_the_event_loop(store: SQLiteStore) -> None:
    """A ticker that wants to run every 5 ms keeps running while one large
    append is written; were the append on the loop, one tick would be late
    by the whole append."""
    tick_s = 0.005
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            due = loop.time() + tick_s
            await asyncio.sleep(tick_s)
            lags.append(loop.time() - due)

    payload = b'{"data":"' + b"x" * 400 + b'"}'
    events = [
        NewEvent(id=f"big-{i}", ts=i, payload=payload, key=f"k{i % 97}", headers={"h": "v"})
        for i in range(40_000)
    ]
    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(tick_s * 3)
    started = time.perf_counter()
    results = await store.append("t", 0, events)
    append_s = time.perf_counter() - started
    done.set()
    await ticking

    assert len(results) == 40_000
    assert results[-1].offset == 39_999
    assert len(lags) >= 5
    worst = max(lags)
    # Relative, not absolute: a loaded machine may delay any tick, but only an
    # append on the loop delays one by the whole append.
    assert worst < append_s / 2, (
        f"loop stalled {worst * 1000:.0f} ms during a {append_s * 1000:.0f} ms append"
    )


async def test_two_stores_on_one_file_never_collide(tmp_path: Path) -> None:
    """Two processes sharing a file each have their own writer; BEGIN
    IMMEDIATE and the busy timeout serialize them, so offsets stay dense."""
    url = _url(tmp_path / "bus.db")
    left, right = SQLiteStore(url), SQLiteStore(url)
    await left.open()
    await right.open()
    try:

        async def publish(target: SQLiteStore, prefix: str) -> None:
            for batch in range(20):
                await target.append("t", 0, [_event(f"{prefix}{batch}-{i}") for i in range(10)])

        await asyncio.gather(publish(left, "l"), publish(right, "r"))
        offsets = [e.offset for e in await left.read("t", 0, 0, 1000)]
        assert offsets == list(range(400))
    finally:
        await left.close()
        await right.close()


async def test_fence_is_checked_in_the_append_transaction(store: SQLiteStore) -> None:
    lease = await store.acquire_lease("p0", "a", 1_000, 0)
    assert lease is not None
    fence = Fence("p0", lease.token)
    taken = await store.acquire_lease("p0", "b", 1_000, 5_000)
    assert taken is not None
    assert taken.token == lease.token + 1
    with pytest.raises(StoreError) as refused:
        await store.append("t", 0, [_event("e")], fence=fence)
    assert refused.value.code == "fenced"
    assert await store.count_events("t") == 0
    assert await store.latest_offset("t", 0) == -1


async def test_pending_jobs_are_bounded(tmp_path: Path) -> None:
    thread = SQLiteThread(tmp_path / "bound.db", Role.WRITER, max_pending=2)
    await thread.start()
    gate = threading.Event()
    started: list[int] = []

    def blocking(number: int, conn: sqlite3.Connection) -> int:
        started.append(number)
        gate.wait(10)
        return number

    try:
        jobs = [asyncio.create_task(thread.run(lambda c, n=n: blocking(n, c))) for n in range(10)]
        await asyncio.sleep(0.05)
        assert thread.pending == 2
        assert started == [0]
        gate.set()
        assert await asyncio.gather(*jobs) == list(range(10))
        assert started == list(range(10))
        assert thread.pending == 0
    finally:
        gate.set()
        await thread.stop()


async def test_cancelled_caller_gives_its_slot_back(tmp_path: Path) -> None:
    thread = SQLiteThread(tmp_path / "cancel.db", Role.WRITER, max_pending=1)
    await thread.start()
    gate = threading.Event()
    try:
        slow = asyncio.create_task(thread.run(lambda c: gate.wait(10)))
        await asyncio.sleep(0.02)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        gate.set()
        assert await asyncio.wait_for(thread.run(lambda c: 42), timeout=5) == 42
        assert thread.pending == 0
    finally:
        gate.set()
        await thread.stop()


async def test_failed_write_rolls_back_and_maps_to_store_error(tmp_path: Path) -> None:
    thread = SQLiteThread(tmp_path / "fail.db", Role.WRITER, max_pending=4)
    await thread.start()

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO nowhere VALUES (1)")

    def count(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])

    try:
        await thread.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
        with pytest.raises(StoreError) as failed:
            await thread.run(lambda c: in_write_transaction(c, half_done))
        assert isinstance(failed.value.__cause__, sqlite3.Error)
        assert await thread.run(lambda c: c.in_transaction) is False
        assert await thread.run(count) == 0
    finally:
        await thread.stop()


async def test_clean_close_leaves_no_wal_behind(tmp_path: Path) -> None:
    clean = SQLiteStore(_url(tmp_path / "bus.db"))
    await clean.open()
    await clean.append("t", 0, [_event("e")])
    await clean.close()
    assert _wal_files(tmp_path) == []


def _wal_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(("-wal", "-shm"))]
