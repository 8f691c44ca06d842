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

A small write may instead run on the caller's thread (`run_write`): handing
a commit to the thread and back wakes two sleeping threads, which at one
write in flight costs more CPU than the SQL itself. That is only done while
the thread has nothing queued or running, so the connection is never used
by two threads at once, and never while another process holds the write
lock: the inline ``BEGIN IMMEDIATE`` does not wait, the job goes to the
thread instead. Nor while writes come as fast as the disk takes them (the
last one ended less than its own duration ago): the loop would then spend
most of its time waiting for the disk, and deliveries ready to go would
wait with it. A commit that kept the loop longer than ``INLINE_SLOW_S`` (a
slow disk) sends writes to the thread for ``INLINE_PAUSE_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

from promethean.errors import StoreError, StoreUnavailableError

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 10_000
CACHE_KIB: Final = 16 * 1024
STATEMENT_CACHE: Final = 256
STOP_JOIN_TIMEOUT_S: Final = 1.0
INLINE_SLOW_S: Final = 0.02
"""An inline commit longer than this blocked the event loop too long."""
INLINE_PAUSE_S: Final = 0.2
"""How long writes go to the thread after a slow inline commit."""

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
        # Used by the owning thread, or by the loop's thread only while the
        # owner is idle (`SQLiteThread.run_write`): never by two at once.
        check_same_thread=False,
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
    return _in_transaction(conn, job, _begin_immediate)


def in_read_transaction(conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``job`` on one consistent snapshot (a deferred read transaction)."""
    return _in_transaction(conn, job, _begin_deferred)


def in_write_transaction_now(conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """`in_write_transaction` whose ``BEGIN IMMEDIATE`` does not wait for
    the write lock: raises `WriteLockBusyError` at once when another connection
    (another broker on the same file) holds it."""
    return _in_transaction(conn, job, _begin_immediate_now)


class WriteLockBusyError(Exception):
    """Another connection holds the write lock; nothing was written."""


def _begin_immediate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _begin_deferred(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")


def _begin_immediate_now(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY:
            raise WriteLockBusyError from exc
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")


def _in_transaction(
    conn: sqlite3.Connection,
    job: Callable[[sqlite3.Connection], T],
    begin: Callable[[sqlite3.Connection], None],
) -> T:
    begin(conn)
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
        # The semaphore bounds what is queued; SimpleQueue's put and get
        # are single C calls, much cheaper than Queue's Condition.
        self._jobs: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._slots: asyncio.Semaphore | None = None
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._accepting = False
        self._pending = 0
        self._inline_from = 0.0
        self._last_write_end = 0.0
        self._last_write_s = 0.0

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
        self._jobs.put(_Job(job, loop, future))
        self._pending += 1
        return await future

    async def run_write(self, job: Callable[[sqlite3.Connection], T], *, inline: bool) -> T:
        """``job`` in one write transaction; with ``inline``, on the caller's
        thread when this thread is idle and the write lock is free (see the
        module's docstring), else on this thread as `run` does."""
        conn = self._conn
        started = time.monotonic()
        try:
            if inline and conn is not None and self._can_run_inline(started):
                written = self._write_inline(conn, job)
                if written is not None:
                    # Like a write on the thread, let other tasks run before the
                    # caller goes on, so a caller writing in a loop cannot starve them.
                    await asyncio.sleep(0)
                    return written[0]
            return await self.run(partial(in_write_transaction, job=job))
        finally:
            self._last_write_end = ended = time.monotonic()
            self._last_write_s = ended - started

    def _write_inline(
        self, conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]
    ) -> tuple[T] | None:
        """``(result,)`` of ``job`` run here, or None when the write lock was busy."""
        started = time.monotonic()
        try:
            return (in_write_transaction_now(conn, job),)
        except WriteLockBusyError:
            return None
        except sqlite3.Error as exc:
            if _needs_reopen(exc):
                self._close_connection()
            raise as_store_error(exc) from exc
        finally:
            finished = time.monotonic()
            if finished - started > INLINE_SLOW_S:
                self._inline_from = finished + INLINE_PAUSE_S

    def _can_run_inline(self, now: float) -> bool:
        return (
            self._accepting
            and self._pending == 0
            and self._role is Role.WRITER
            and now >= self._inline_from
            and now - self._last_write_end >= self._last_write_s
        )

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
        self._jobs.put(_Stop(loop, stopped))
        await stopped
        if self._thread is not None:
            # The connection is closed; all the thread has left is to return,
            # so this join is over in microseconds.
            self._thread.join(timeout=STOP_JOIN_TIMEOUT_S)

    def _main(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            self._open()
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
        try:
            while True:
                item = self._jobs.get()
                if isinstance(item, _Stop):
                    stop = item
                    break
                conn = self._conn
                if conn is None:
                    conn = self._conn = self._reopen(item)
                    if conn is None:
                        continue
                self._execute(conn, item)
        finally:
            self._close_connection()
        _post(stop.loop, stop.future, None, None)

    def _open(self) -> None:
        self._conn = connect(self._path, self._role)

    def _close_connection(self) -> None:
        """Close and forget the connection; the next job on the thread opens
        a fresh one. Called only by whoever may use the connection now."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _reopen(self, job: _Job) -> sqlite3.Connection | None:
        """A fresh connection for ``job``; on failure the job fails with
        `StoreUnavailableError` and the next job tries again."""
        try:
            return connect(self._path, self._role)
        except (sqlite3.Error, OSError) as exc:
            error = StoreUnavailableError(f"sqlite: cannot reopen {self._path}: {exc}")
            _post(job.loop, job.future, None, _caused(error, exc), done=self._job_done)
            return None

    def _execute(self, conn: sqlite3.Connection, job: _Job) -> None:
        """Run ``job``; a failure that spoils the connection closes it before
        the outcome is posted, so the loop never sees an idle thread holding
        a connection it is about to close."""
        result: Any = None
        error: BaseException | None = None
        try:
            result = job.run(conn)
        except sqlite3.Error as exc:
            error = _caused(as_store_error(exc), exc)
            if _needs_reopen(exc):
                self._close_connection()
        except BaseException as exc:
            error = exc
        _post(job.loop, job.future, result, error, done=self._job_done)


def _needs_reopen(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in REOPEN_AFTER


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
