"""Threads that own sqlite3 connections, so no sqlite3 call blocks the event loop.

Each `SQLiteThread` owns one connection on one thread and runs jobs in the
order they were submitted. The store runs one writer thread (every write is
serialized, so appends to a partition can never collide) and one reader
thread, which WAL lets read while the writer writes.

Pending jobs are bounded: a submitter first takes one of ``max_pending``
slots from an `asyncio.Semaphore` (waiting without blocking the loop), and the
slot comes back only when the job has run, even if the submitter was
cancelled meanwhile. The thread's queue can therefore never hold more than
``max_pending`` jobs plus the stop marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from promethean.errors import StoreError, StoreUnavailableError

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 10_000
CACHE_KIB: Final = 16 * 1024
STATEMENT_CACHE: Final = 256
STOP_JOIN_TIMEOUT_S: Final = 1.0

NOT_OPEN: Final = "sqlite store is not open"
REOPEN_AFTER: Final = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)
"""Primary result codes after which the connection is replaced before the
next job: after "database or disk is full" a connection can keep failing
even once space is back (its WAL and cache state), a fresh one does not."""


class Role(enum.Enum):
    WRITER = "writer"
    READER = "reader"


def connect(path: Path, role: Role) -> sqlite3.Connection:
    """Open ``path`` for ``role`` with the pragmas durability depends on.

    ``isolation_level=None`` hands transaction control to us: every job
    issues its own BEGIN/COMMIT (see `in_write_transaction`).
    """
    if role is Role.WRITER:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        cached_statements=STATEMENT_CACHE,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        if role is Role.WRITER:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite refused WAL mode for {path} (got {mode!r})")
        else:
            conn.execute("PRAGMA query_only = ON")
        # FULL: the WAL is synced on every commit, so an acknowledged write
        # survives power loss (docs/decisions/sqlite-durability.md).
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB:d}")
        conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


def in_write_transaction(conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``job`` as one ``BEGIN IMMEDIATE … COMMIT``; roll back if it raises."""
    return _in_transaction(conn, job, "BEGIN IMMEDIATE")


def in_read_transaction(conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``job`` on one consistent snapshot (a deferred read transaction)."""
    return _in_transaction(conn, job, "BEGIN")


def _in_transaction(
    conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T], begin: str
) -> T:
    conn.execute(begin)
    try:
        result = job(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def as_store_error(exc: sqlite3.Error) -> StoreError:
    """Map a sqlite3 failure to the port's error types.

    An `OperationalError` (locked past the busy timeout, disk I/O, disk full,
    file unreadable) means the store cannot serve right now; anything else is
    a refusal of the operation itself.
    """
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailableError(f"sqlite: {exc}")
    return StoreError(f"sqlite: {exc}")


@dataclass(slots=True)
class _Job:
    run: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Stop:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class SQLiteThread:
    """One connection, one thread, jobs in submission order."""

    def __init__(self, path: Path, role: Role, *, max_pending: int) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._path = path
        self._role = role
        self._max_pending = max_pending
        self._jobs: queue.Queue[_Job | _Stop] = queue.Queue(maxsize=max_pending + 1)
        self._slots: asyncio.Semaphore | None = None
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._pending = 0

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet finished (never more than ``max_pending``)."""
        return self._pending

    @property
    def alive(self) -> bool:
        return self._accepting and self._thread is not None and self._thread.is_alive()

    async def start(self) -> None:
        """Start the thread and wait until its connection is open."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._slots = asyncio.Semaphore(self._max_pending)
        self._thread = threading.Thread(
            target=self._main,
            args=(loop, ready),
            name=f"promethean-sqlite-{self._role.value}",
            daemon=True,
        )
        self._thread.start()
        await ready
        self._accepting = True

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` on the thread and return its result."""
        slots = self._slots
        if not self._accepting or slots is None:
            raise StoreUnavailableError(NOT_OPEN)
        await slots.acquire()
        if self._stopped_meanwhile():
            slots.release()
            raise StoreUnavailableError(NOT_OPEN)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # Never raises queue.Full: at most max_pending slots are out at once.
        self._jobs.put_nowait(_Job(job, loop, future))
        self._pending += 1
        return await future

    def _job_done(self) -> None:
        """On the loop, once a job has run: give its slot back."""
        self._pending -= 1
        if self._slots is not None:
            self._slots.release()

    def _stopped_meanwhile(self) -> bool:
        """Re-read after an await: `stop` may have run while we waited for a slot."""
        return not self._accepting

    async def stop(self) -> None:
        """Run what is already queued, then close the connection and end the thread."""
        if not self._accepting:
            return
        self._accepting = False
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()
        self._jobs.put_nowait(_Stop(loop, stopped))
        await stopped
        if self._thread is not None:
            # The connection is closed; all the thread has left is to return,
            # so this join is over in microseconds.
            self._thread.join(timeout=STOP_JOIN_TIMEOUT_S)

    def _main(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            conn = connect(self._path, self._role)
        except sqlite3.Error as exc:
            _post(loop, ready, None, _caused(as_store_error(exc), exc))
            return
        except OSError as exc:
            unavailable = StoreUnavailableError(f"sqlite: cannot use {self._path}: {exc}")
            _post(loop, ready, None, _caused(unavailable, exc))
            return
        except BaseException as exc:
            _post(loop, ready, None, exc)
            return
        _post(loop, ready, None, None)
        current: sqlite3.Connection | None = conn
        try:
            while True:
                item = self._jobs.get()
                if isinstance(item, _Stop):
                    stop = item
                    break
                if current is None:
                    current = self._reopen(item)
                    if current is None:
                        continue
                if not self._execute(current, item):
                    with contextlib.suppress(sqlite3.Error):
                        current.close()
                    current = None
        finally:
            if current is not None:
                with contextlib.suppress(sqlite3.Error):
                    current.close()
        _post(stop.loop, stop.future, None, None)

    def _reopen(self, job: _Job) -> sqlite3.Connection | None:
        """A fresh connection for ``job``; on failure the job fails with
        `StoreUnavailableError` and the next job tries again."""
        try:
            return connect(self._path, self._role)
        except (sqlite3.Error, OSError) as exc:
            error = StoreUnavailableError(f"sqlite: cannot reopen {self._path}: {exc}")
            _post(job.loop, job.future, None, _caused(error, exc), done=self._job_done)
            return None

    def _execute(self, conn: sqlite3.Connection, job: _Job) -> bool:
        """Run ``job``; False when the connection should be replaced."""
        result: Any = None
        error: BaseException | None = None
        keep = True
        try:
            result = job.run(conn)
        except sqlite3.Error as exc:
            error = _caused(as_store_error(exc), exc)
            keep = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in REOPEN_AFTER
        except BaseException as exc:
            error = exc
        _post(job.loop, job.future, result, error, done=self._job_done)
        return keep


def _caused(error: StoreError, cause: BaseException) -> StoreError:
    error.__cause__ = cause
    return error


def _post(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: object,
    error: BaseException | None,
    *,
    done: Callable[[], None] | None = None,
) -> None:
    """Hand an outcome back to ``loop`` (thread-safe); ignored if the loop is gone."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, error, done)


def _settle(
    future: asyncio.Future[Any],
    result: object,
    error: BaseException | None,
    done: Callable[[], None] | None,
) -> None:
    if done is not None:
        done()
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
