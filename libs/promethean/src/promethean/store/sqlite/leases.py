"""Leases with fencing tokens (leader election, partition ownership).

`check_fence` runs inside the append's own transaction, so a token that was
superseded before the append began can never slip a write in.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from promethean.errors import FencedError
from promethean.store.records import Fence, Lease
from promethean.store.sqlite.base import SQLiteBase

RELEASED_EXPIRY_MS: Final = 0
"""``expires_at_ms`` of a released lease: in the past for every caller's clock."""

_GET: Final = "SELECT holder, token, expires_at_ms FROM leases WHERE name = ?"
_TOKEN: Final = "SELECT token FROM leases WHERE name = ?"
_PUT: Final = (
    "INSERT INTO leases (name, holder, token, expires_at_ms) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token,"
    " expires_at_ms = excluded.expires_at_ms"
)
_EXTEND: Final = "UPDATE leases SET expires_at_ms = ? WHERE name = ? AND holder = ? AND token = ?"


def check_fence(conn: sqlite3.Connection, fence: Fence) -> None:
    row = conn.execute(_TOKEN, (fence.name,)).fetchone()
    current = None if row is None else int(row[0])
    if current != fence.token:
        raise FencedError(
            f"lease {fence.name!r} carries token {current}, the write carried {fence.token}"
        )


def get(conn: sqlite3.Connection, name: str) -> Lease | None:
    row = conn.execute(_GET, (name,)).fetchone()
    return None if row is None else Lease(name, row[0], row[1], row[2])


def acquire(
    conn: sqlite3.Connection, name: str, holder: str, ttl_ms: int, now_ms: int
) -> Lease | None:
    current = get(conn, name)
    if current is None:
        token = 1
    elif current.holder == holder:
        token = current.token
    elif current.expires_at_ms > now_ms:
        return None
    else:
        token = current.token + 1
    lease = Lease(name, holder, token, now_ms + ttl_ms)
    conn.execute(_PUT, (name, holder, token, lease.expires_at_ms))
    return lease


def renew(
    conn: sqlite3.Connection, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
) -> Lease | None:
    expires = now_ms + ttl_ms
    changed = conn.execute(_EXTEND, (expires, name, holder, token)).rowcount
    return Lease(name, holder, token, expires) if changed else None


def release(conn: sqlite3.Connection, name: str, holder: str, token: int) -> bool:
    return conn.execute(_EXTEND, (RELEASED_EXPIRY_MS, name, holder, token)).rowcount > 0


class LeaseMixin(SQLiteBase):
    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        return await self._write(acquire, name, holder, ttl_ms, now_ms)

    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        return await self._write(renew, name, holder, token, ttl_ms, now_ms)

    async def release_lease(self, name: str, holder: str, token: int) -> bool:
        return await self._write(release, name, holder, token)

    async def get_lease(self, name: str) -> Lease | None:
        return await self._read(get, name)
