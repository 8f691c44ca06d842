"""The broker's store lease: one active broker per store.

The active broker holds the lease ``broker`` and renews it every
`RENEW_EVERY_S` (or a third of its TTL, if shorter); its fencing token goes
on every append, so a broker that lost the lease (paused, partitioned) has
its writes refused by the store. A second broker waits as a hot standby and
takes over once the lease expires.

Renewal doubles as the store's health probe (`StoreHealth`): each attempt is
bounded by `STORE_CALL_TIMEOUT_S`, and a failed or slow one turns readiness
off within a second. A renewal that fails because the store is unreachable
or full is not a lost lease: the broker keeps its token and keeps trying.
Its writes stay fenced by that token, so once the store answers either the
token is still current (no other broker took over; renewal succeeds and it
carries on) or the store refuses it and the broker steps down. Only the
second ends the process (exit 70); an outage alone never does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable
from typing import Final, TypeVar

from promethean.clock import Clock
from promethean.runtime.health import StoreHealth
from promethean.store.port import Store
from promethean.store.records import Fence, Lease

log = logging.getLogger("promethean.broker.leadership")

LEASE_NAME = "broker"
RENEW_EVERY_S: Final = 0.5
STORE_CALL_TIMEOUT_S: Final = 1.0
"""A lease call slower than this counts as a store failure (a MongoDB client
would otherwise wait its 30 s server selection before saying anything)."""

T = TypeVar("T")


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"
    LOST = "lost"


async def _bounded(call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, STORE_CALL_TIMEOUT_S)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"the store did not answer within {STORE_CALL_TIMEOUT_S:g} s"
    return str(exc) or type(exc).__name__


class Leadership:
    def __init__(
        self,
        store: Store,
        holder: str,
        ttl_ms: int,
        clock: Clock,
        health: StoreHealth | None = None,
    ) -> None:
        self._store = store
        self.holder = holder
        self._ttl_ms = ttl_ms
        self._clock = clock
        self._health = health
        self.role = Role.STANDBY
        self.lease: Lease | None = None
        self.lost = asyncio.Event()

    @property
    def fence(self) -> Fence:
        if self.lease is None:
            raise RuntimeError("the broker does not hold the lease")
        return Fence(LEASE_NAME, self.lease.token)

    @property
    def renew_every_s(self) -> float:
        return min(RENEW_EVERY_S, self._ttl_ms / 3000)

    def _failed(self, exc: BaseException) -> None:
        if self._health is not None:
            self._health.failed(f"lease: {_reason(exc)}")

    def _succeeded(self) -> None:
        if self._health is not None:
            self._health.succeeded()

    async def acquire(self) -> Lease:
        """Wait until this broker holds the lease (standby until then); a
        store that fails meanwhile is reported and tried again."""
        announced = False
        while True:
            try:
                lease = await _bounded(
                    self._store.acquire_lease(
                        LEASE_NAME, self.holder, self._ttl_ms, self._clock.now_ms()
                    )
                )
                self._succeeded()
                if lease is not None:
                    self.lease = lease
                    self.role = Role.LEADER
                    log.info("leader", extra={"holder": self.holder, "token": lease.token})
                    return lease
                if not announced:
                    current = await _bounded(self._store.get_lease(LEASE_NAME))
                    log.info(
                        "standby: another broker holds the store lease",
                        extra={"leader": current.holder if current else "?"},
                    )
                    announced = True
            except Exception as exc:
                self._failed(exc)
            await asyncio.sleep(self._ttl_ms / 3000)

    async def keep(self) -> None:
        """Renew until the store refuses the token; then set ``lost`` and
        return. Store failures meanwhile are reported, not fatal."""
        while True:
            await asyncio.sleep(self.renew_every_s)
            lease = self.lease
            if lease is None:
                return
            try:
                renewed = await _bounded(
                    self._store.renew_lease(
                        LEASE_NAME, self.holder, lease.token, self._ttl_ms, self._clock.now_ms()
                    )
                )
            except Exception as exc:
                self._failed(exc)
                continue
            if renewed is None:
                self.role = Role.LOST
                self.lost.set()
                log.error("lost the store lease; stepping down", extra={"token": lease.token})
                return
            self._succeeded()
            self.lease = renewed

    async def release(self) -> None:
        lease = self.lease
        if lease is not None and self.role is Role.LEADER:
            await self._store.release_lease(LEASE_NAME, self.holder, lease.token)
            self.role = Role.STANDBY
