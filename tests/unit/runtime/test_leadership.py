"""Fenced leadership over a store lease, as the broker and the compactor use
it: store failures (and store calls that hang) are reported, never a lost
lease; the holder steps down only when the store refuses its token; a
standby observes the leader and takes over with a higher token; a release
hands over at once; one process may hold two leases."""

from __future__ import annotations

import asyncio

import pytest

from promethean.errors import StoreUnavailableError
from promethean.runtime.health import Dependency, Readiness, StoreHealth
from promethean.runtime.leadership import Leadership, LeadershipLostError, Role
from promethean.store.memory import MemoryStore
from promethean.store.records import Fence, Lease

TTL_MS = 300
NAME = "broker"
WAIT_S = 5.0


class SwitchableStore(MemoryStore):
    """A memory store whose lease calls fail while ``down`` is set and
    never answer while ``hung`` is set."""

    def __init__(self) -> None:
        super().__init__("memory://")
        self.down = False
        self.hung = False
        self.refused = asyncio.Event()
        """Set on every call refused while down."""

    async def _check(self) -> None:
        if self.hung:
            await asyncio.Event().wait()
        if self.down:
            self.refused.set()
            raise StoreUnavailableError("store is down")

    async def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        await self._check()
        return await super().acquire_lease(name, holder, ttl_ms, now_ms)

    async def renew_lease(
        self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int
    ) -> Lease | None:
        await self._check()
        return await super().renew_lease(name, holder, token, ttl_ms, now_ms)

    async def get_lease(self, name: str) -> Lease | None:
        await self._check()
        return await super().get_lease(name)


class ManualClock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def now_ms(self) -> int:
        return self.ms


@pytest.fixture
async def store() -> SwitchableStore:
    opened = SwitchableStore()
    await opened.open()
    return opened


def store_health() -> tuple[Readiness, StoreHealth]:
    readiness = Readiness()
    return readiness, StoreHealth(readiness, Dependency("store"), settle_s=0)


# -- the broker's use: acquire, keep, a store outage -----------------------------


async def test_an_outage_longer_than_the_ttl_keeps_the_lease(store: SwitchableStore) -> None:
    clock = ManualClock()
    readiness, health = store_health()
    leadership = Leadership(store, NAME, "b1", TTL_MS, clock.now_ms, health=health)
    lease = await leadership.acquire()
    store.down = True
    for _ in range(3):
        clock.ms += TTL_MS
        with pytest.raises(StoreUnavailableError):
            await leadership.step()
    assert "store" in readiness.reasons
    assert leadership.role is Role.LEADER
    assert not leadership.lost.is_set()
    store.down = False
    assert await leadership.step() is Role.LEADER
    assert readiness.ready
    assert leadership.fence == Fence(NAME, lease.token)


async def test_a_lease_taken_during_the_outage_is_lost(store: SwitchableStore) -> None:
    clock = ManualClock()
    _, health = store_health()
    changes: list[Role] = []
    leadership = Leadership(
        store, NAME, "b1", TTL_MS, clock.now_ms, health=health, on_change=changes.append
    )
    await leadership.acquire()
    keeping = asyncio.create_task(leadership.keep())
    store.down = True
    clock.ms += TTL_MS + 1
    # Another broker reaches the store (b1 does not) and takes the expired lease.
    assert await MemoryStore.acquire_lease(store, NAME, "b2", TTL_MS, clock.now_ms()) is not None
    store.down = False
    await asyncio.wait_for(keeping, WAIT_S)
    assert leadership.lost.is_set()
    assert leadership.role is Role.LOST
    assert changes == [Role.LEADER, Role.LOST]
    with pytest.raises(LeadershipLostError):
        _ = leadership.fence


async def test_acquire_waits_through_an_outage(store: SwitchableStore) -> None:
    readiness, health = store_health()
    store.down = True
    leadership = Leadership(store, NAME, "b1", TTL_MS, ManualClock().now_ms, health=health)
    acquiring = asyncio.create_task(leadership.acquire())
    for _ in range(2):  # two rounds refused: acquire keeps waiting
        await asyncio.wait_for(store.refused.wait(), WAIT_S)
        store.refused.clear()
    assert not acquiring.done()
    assert "store" in readiness.reasons
    store.down = False
    lease = await asyncio.wait_for(acquiring, WAIT_S)
    assert lease.holder == "b1"
    assert readiness.ready


async def test_a_store_call_that_hangs_is_a_bounded_failure(store: SwitchableStore) -> None:
    readiness, health = store_health()
    leadership = Leadership(
        store, NAME, "b1", TTL_MS, ManualClock().now_ms, health=health, call_timeout_s=0.01
    )
    await leadership.acquire()
    store.hung = True
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        await asyncio.wait_for(leadership.step(), WAIT_S)
    assert "did not answer" in readiness.reasons["store"]
    assert leadership.role is Role.LEADER


# -- the compactor's use: step, confirm, release ------------------------------------


async def test_a_standby_observes_the_leader_and_takes_over_after_the_ttl(
    store: SwitchableStore,
) -> None:
    clock = ManualClock()
    leader = Leadership(store, "compactor", "alpha", TTL_MS, clock.now_ms)
    changes: list[Role] = []
    standby = Leadership(store, "compactor", "beta", TTL_MS, clock.now_ms, on_change=changes.append)
    assert await leader.step() is Role.LEADER
    assert await standby.step() is Role.STANDBY
    assert standby.observed is not None
    assert standby.observed.holder == "alpha"
    with pytest.raises(LeadershipLostError):
        _ = standby.token
    with pytest.raises(LeadershipLostError):
        await standby.confirm()
    clock.ms += TTL_MS + 1
    assert await standby.step() is Role.LEADER
    assert standby.token == leader.token + 1, "a takeover raises the token"
    assert changes == [Role.LEADER]
    with pytest.raises(LeadershipLostError, match="lost the lease"):
        await leader.confirm()
    assert leader.role is Role.LOST
    assert await leader.step() is Role.STANDBY


async def test_confirm_renews_a_lease_still_held(store: SwitchableStore) -> None:
    clock = ManualClock()
    leadership = Leadership(store, "compactor", "alpha", TTL_MS, clock.now_ms)
    await leadership.step()
    clock.ms += TTL_MS - 1
    await leadership.confirm()
    assert leadership.lease is not None
    assert leadership.lease.expires_at_ms == clock.ms + TTL_MS


async def test_a_release_hands_the_lease_over_at_once(store: SwitchableStore) -> None:
    clock = ManualClock()
    changes: list[Role] = []
    leader = Leadership(store, "compactor", "alpha", TTL_MS, clock.now_ms, on_change=changes.append)
    standby = Leadership(store, "compactor", "beta", TTL_MS, clock.now_ms)
    await leader.step()
    await standby.step()
    await leader.release()
    assert leader.role is Role.STANDBY
    assert not leader.lost.is_set()
    assert changes == [Role.LEADER, Role.STANDBY]
    assert await standby.step() is Role.LEADER, "no wait for the TTL"
    await leader.release()  # not held: nothing to do


async def test_one_process_holds_two_leases(store: SwitchableStore) -> None:
    clock = ManualClock()
    broker = Leadership(store, "broker", "b1", TTL_MS, clock.now_ms)
    controller = Leadership(store, "controller", "b1", TTL_MS, clock.now_ms)
    assert await broker.step() is Role.LEADER
    assert await controller.step() is Role.LEADER
    assert broker.fence.name != controller.fence.name
    await controller.release()
    assert await broker.step() is Role.LEADER
    assert controller.role is Role.STANDBY
