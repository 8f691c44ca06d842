"""The broker's lease through a store outage: renewals that fail are
reported to `StoreHealth`, never a lost lease; the broker steps down only
when the store refuses its token (another broker took over)."""

from __future__ import annotations

import asyncio

from promethean.clock import SystemClock
from promethean.errors import StoreUnavailableError
from promethean.runtime.health import Dependency, Readiness, StoreHealth
from promethean.store.memory import MemoryStore
from promethean.store.records import Lease
from promethean_broker.leadership import LEASE_NAME, Leadership

TTL_MS = 300


class SwitchableStore(MemoryStore):
    """A memory store whose lease calls fail while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__("memory://")
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("store is down")

    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        self._check()
        return await super().acquire_lease(name, holder, ttl_ms, now_ms)

    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        self._check()
        return await super().renew_lease(name, holder, token, ttl_ms, now_ms)

    async def get_lease(self, name: str) -> Lease | None:
        self._check()
        return await super().get_lease(name)


def parts() -> tuple[SwitchableStore, Readiness, StoreHealth]:
    readiness = Readiness()
    return SwitchableStore(), readiness, StoreHealth(readiness, Dependency("store"), settle_s=0)


async def test_an_outage_longer_than_the_ttl_keeps_the_lease() -> None:
    store, readiness, health = parts()
    await store.open()
    leadership = Leadership(store, "b1", TTL_MS, SystemClock(), health)
    lease = await leadership.acquire()
    keeping = asyncio.create_task(leadership.keep())
    try:
        store.down = True
        await asyncio.sleep(TTL_MS * 3 / 1000)
        assert "store" in readiness.reasons
        assert not leadership.lost.is_set()
        store.down = False
        await asyncio.sleep(TTL_MS / 1000)
        assert readiness.ready
        assert not leadership.lost.is_set()
        assert leadership.fence.token == lease.token
    finally:
        keeping.cancel()


async def test_a_lease_taken_during_the_outage_is_lost() -> None:
    store, _, health = parts()
    await store.open()
    clock = SystemClock()
    leadership = Leadership(store, "b1", TTL_MS, clock, health)
    await leadership.acquire()
    keeping = asyncio.create_task(leadership.keep())
    store.down = True
    await asyncio.sleep(TTL_MS * 2 / 1000)
    store.down = False
    assert await store.acquire_lease(LEASE_NAME, "b2", TTL_MS, clock.now_ms()) is not None
    await asyncio.wait_for(keeping, 2)
    assert leadership.lost.is_set()


async def test_acquire_waits_through_an_outage() -> None:
    store, readiness, health = parts()
    await store.open()
    store.down = True
    leadership = Leadership(store, "b1", TTL_MS, SystemClock(), health)
    acquiring = asyncio.create_task(leadership.acquire())
    await asyncio.sleep(TTL_MS / 1000)
    assert not acquiring.done()
    assert "store" in readiness.reasons
    store.down = False
    lease = await asyncio.wait_for(acquiring, 2)
    assert lease.holder == "b1"
    assert readiness.ready
