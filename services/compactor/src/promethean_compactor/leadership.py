"""Leader election over the store lease ``compactor``.

One replica holds the lease and runs passes; the others are standbys that
try to take it every renewal period, so a dead leader is replaced within the
lease TTL plus one renewal period. Each takeover raises the lease's fencing
token; the leader confirms its token with the store (`confirm`) right before
every destructive step, so a leader that lost the lease while paused stops
at the next step instead of working on as a second leader.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from promethean.errors import PrometheanError
from promethean.store.port import LeaseStore
from promethean.store.records import Lease

log = logging.getLogger("promethean.compactor.leadership")

LEASE_NAME = "compactor"


class Role(enum.StrEnum):
    STANDBY = "standby"
    LEADER = "leader"


class LeadershipLostError(PrometheanError):
    """The lease moved on: stop the pass, become a standby."""


class Leadership:
    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        ttl_ms: int,
        now_ms: Callable[[], int],
        *,
        on_change: Callable[[Role], None] = lambda role: None,
    ) -> None:
        self._store = store
        self.holder = holder
        self._ttl_ms = ttl_ms
        self._now_ms = now_ms
        self._on_change = on_change
        self.lease: Lease | None = None
        self.observed: Lease | None = None
        """The lease as last seen while standing by (who leads)."""

    @property
    def role(self) -> Role:
        return Role.LEADER if self.lease is not None else Role.STANDBY

    @property
    def token(self) -> int:
        if self.lease is None:
            raise LeadershipLostError("not the leader")
        return self.lease.token

    async def step(self) -> Role:
        """Renew when leading, try to acquire when standing by."""
        now = self._now_ms()
        if self.lease is not None:
            renewed = await self._store.renew_lease(
                LEASE_NAME, self.holder, self.lease.token, self._ttl_ms, now
            )
            self._set(renewed)
        else:
            acquired = await self._store.acquire_lease(LEASE_NAME, self.holder, self._ttl_ms, now)
            if acquired is None:
                self.observed = await self._store.get_lease(LEASE_NAME)
            self._set(acquired)
        return self.role

    async def confirm(self) -> None:
        """Renew now; raise `LeadershipLostError` when the lease is no longer ours."""
        if self.lease is None:
            raise LeadershipLostError("not the leader")
        await self.step()
        if self.lease is None:
            raise LeadershipLostError("lease lost")

    async def release(self) -> None:
        if self.lease is not None:
            await self._store.release_lease(LEASE_NAME, self.holder, self.lease.token)
            log.info("lease released", extra={"holder": self.holder})
            self._set(None, released=True)

    def _set(self, lease: Lease | None, *, released: bool = False) -> None:
        before = self.role
        self.lease = lease
        after = self.role
        if before is not after:
            if after is Role.LEADER and lease is not None:
                log.info("leading", extra={"holder": self.holder, "token": lease.token})
            elif not released:
                log.warning("lease lost; standing by", extra={"holder": self.holder})
            self._on_change(after)
