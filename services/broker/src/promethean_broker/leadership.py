"""The broker's store lease: one active broker per store.

The active broker holds the lease ``broker`` and renews it every third of
its TTL; its fencing token goes on every append, so a broker that lost the
lease (paused, partitioned) has its writes refused by the store. A second
broker waits as a hot standby and takes over once the lease expires.
"""

from __future__ import annotations

import asyncio
import enum
import logging

from promethean.clock import Clock
from promethean.store.port import Store
from promethean.store.records import Fence, Lease

log = logging.getLogger("promethean.broker.leadership")

LEASE_NAME = "broker"


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"
    LOST = "lost"


class Leadership:
    def __init__(self, store: Store, holder: str, ttl_ms: int, clock: Clock) -> None:
        self._store = store
        self.holder = holder
        self._ttl_ms = ttl_ms
        self._clock = clock
        self.role = Role.STANDBY
        self.lease: Lease | None = None
        self.lost = asyncio.Event()

    @property
    def fence(self) -> Fence:
        if self.lease is None:
            raise RuntimeError("the broker does not hold the lease")
        return Fence(LEASE_NAME, self.lease.token)

    async def acquire(self) -> Lease:
        """Wait until this broker holds the lease (standby until then)."""
        announced = False
        while True:
            lease = await self._store.acquire_lease(
                LEASE_NAME, self.holder, self._ttl_ms, self._clock.now_ms()
            )
            if lease is not None:
                self.lease = lease
                self.role = Role.LEADER
                log.info("leader", extra={"holder": self.holder, "token": lease.token})
                return lease
            if not announced:
                current = await self._store.get_lease(LEASE_NAME)
                log.info(
                    "standby: another broker holds the store lease",
                    extra={"leader": current.holder if current else "?"},
                )
                announced = True
            await asyncio.sleep(self._ttl_ms / 3000)

    async def keep(self) -> None:
        """Renew until the lease is lost; then set ``lost`` and return."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            lease = self.lease
            if lease is None:
                return
            try:
                renewed = await self._store.renew_lease(
                    LEASE_NAME, self.holder, lease.token, self._ttl_ms, self._clock.now_ms()
                )
            except Exception:
                log.exception("lease renewal failed")
                renewed = None
                if self._clock.now_ms() < lease.expires_at_ms:
                    continue
            if renewed is None:
                self.role = Role.LOST
                self.lost.set()
                log.error("lost the store lease; stepping down", extra={"token": lease.token})
                return
            self.lease = renewed

    async def release(self) -> None:
        lease = self.lease
        if lease is not None and self.role is Role.LEADER:
            await self._store.release_lease(LEASE_NAME, self.holder, lease.token)
            self.role = Role.STANDBY
