"""Lifecycle of the SQLite store: URL, threads, open/close/ping.

The concern mixins (`log`, `groups`, ...) only call `_write` and `_read`:
each write is one ``BEGIN IMMEDIATE … COMMIT`` on the single writer thread,
each read one snapshot on the reader thread.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Concatenate, Final, ParamSpec, TypeVar

from promethean.errors import StoreUnavailableError
from promethean.store.records import StoreCapabilities
from promethean.store.sqlite.connection import (
    NOT_OPEN,
    Role,
    SQLiteThread,
    in_read_transaction,
    in_write_transaction,
)
from promethean.store.sqlite.ddl import create_schema

P = ParamSpec("P")
T = TypeVar("T")

URL_PREFIX: Final = "sqlite:///"
DEFAULT_MAX_PENDING: Final = 1024
INLINE_APPEND_MAX_EVENTS: Final = 8
"""Appends of at most this many events may commit on the loop's thread:
that is the load (one or a few publishes in flight) where the hand-off to
the writer thread costs more than the SQL. Bigger batches go to the thread,
so the loop keeps reading publishes while their commit waits for the disk."""
CAPABILITIES: Final = StoreCapabilities(transactions=True, change_streams=False, detail="sqlite")


class Lifecycle(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def path_from_url(url: str) -> Path:
    """``sqlite:///rel/path.db`` → ``rel/path.db``, ``sqlite:////abs/path.db`` → ``/abs/path.db``.

    A relative path is taken relative to the working directory at the time the
    store is built, so a later ``chdir`` cannot move the database."""
    if not url.lower().startswith(URL_PREFIX):
        raise ValueError(
            "sqlite URL must look like sqlite:///relative.db or sqlite:////absolute.db,"
            f" got {url!r}"
        )
    raw = url[len(URL_PREFIX) :]
    if not raw or raw.endswith("/"):
        raise ValueError(f"sqlite URL {url!r} names no database file")
    if raw == ":memory:" or raw.startswith("file:"):
        raise ValueError(
            f"sqlite URL {url!r} is not a file path; use memory:// for a store without a file"
        )
    return Path(raw).absolute()


class SQLiteBase:
    def __init__(self, url: str, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._url = url
        self._path = path_from_url(url)
        self._max_pending = max_pending
        self._state = Lifecycle.NEW
        self._writer: SQLiteThread | None = None
        self._reader: SQLiteThread | None = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def path(self) -> Path:
        return self._path

    @property
    def capabilities(self) -> StoreCapabilities:
        return CAPABILITIES

    async def open(self) -> None:
        """Start the writer, create missing tables, then start the reader.

        The writer goes first: it switches the file to WAL, which the
        reader's connection then finds already set."""
        if self._state is Lifecycle.OPEN:
            return
        writer = SQLiteThread(self._path, Role.WRITER, max_pending=self._max_pending)
        await writer.start()
        try:
            await writer.run(partial(in_write_transaction, job=create_schema))
            reader = SQLiteThread(self._path, Role.READER, max_pending=self._max_pending)
            await reader.start()
        except BaseException:
            await writer.stop()
            raise
        self._writer, self._reader = writer, reader
        self._state = Lifecycle.OPEN

    async def close(self) -> None:
        """Let queued work finish, then close both connections (reader first,
        so the writer's close is the last one and checkpoints the WAL)."""
        if self._state is not Lifecycle.OPEN:
            self._state = Lifecycle.CLOSED
            return
        self._state = Lifecycle.CLOSED
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        if reader is not None:
            await reader.stop()
        if writer is not None:
            await writer.stop()

    async def ping(self) -> None:
        writer = self._writer
        if self._state is not Lifecycle.OPEN or writer is None or not writer.alive:
            raise StoreUnavailableError(NOT_OPEN)
        await self._read(_check_file, self._path)

    async def connection_pragmas(self) -> dict[str, dict[str, object]]:
        """The durability-relevant pragmas of both connections, by role."""
        writer, reader = self._writer, self._reader
        if writer is None or reader is None:
            raise StoreUnavailableError(NOT_OPEN)
        return {"writer": await writer.run(_pragmas), "reader": await reader.run(_pragmas)}

    async def _write(
        self,
        job: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        writer = self._writer
        if writer is None:
            raise StoreUnavailableError(NOT_OPEN)

        def transaction(conn: sqlite3.Connection) -> T:
            return in_write_transaction(conn, lambda c: job(c, *args, **kwargs))

        return await writer.run(transaction)

    async def _write_append(
        self,
        events: int,
        job: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`_write` for an append of ``events`` events: a small one commits
        on the loop's thread when the writer is idle (`SQLiteThread.run_write`)."""
        writer = self._writer
        if writer is None:
            raise StoreUnavailableError(NOT_OPEN)
        return await writer.run_write(
            lambda c: job(c, *args, **kwargs), inline=events <= INLINE_APPEND_MAX_EVENTS
        )

    async def _read(
        self,
        job: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        reader = self._reader
        if reader is None:
            raise StoreUnavailableError(NOT_OPEN)

        def transaction(conn: sqlite3.Connection) -> T:
            return in_read_transaction(conn, lambda c: job(c, *args, **kwargs))

        return await reader.run(transaction)


def _check_file(conn: sqlite3.Connection, path: Path) -> None:
    """A file deleted under an open connection still answers queries, but
    every write would vanish with the unlinked inode: report it unavailable."""
    if not path.exists():
        raise StoreUnavailableError(f"sqlite file {path} no longer exists")
    conn.execute("PRAGMA user_version").fetchone()


_PRAGMA_QUERIES: Final = {
    "journal_mode": "PRAGMA journal_mode",
    "synchronous": "PRAGMA synchronous",
    "busy_timeout": "PRAGMA busy_timeout",
    "query_only": "PRAGMA query_only",
}


def _pragmas(conn: sqlite3.Connection) -> dict[str, object]:
    return {name: conn.execute(sql).fetchone()[0] for name, sql in _PRAGMA_QUERIES.items()}
