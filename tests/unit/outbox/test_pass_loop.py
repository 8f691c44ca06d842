"""The pass loop and housekeeping, on the mock broker and the memory store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from promethean.clock import FakeClock, SystemClock
from promethean.outbox import new_row
from promethean.runtime.health import JobTimer, Progress, Readiness
from promethean.store.memory import MemoryStore
from promethean.store.records import OutboxStatus
from promethean.testing import InMemoryBroker
from promethean_outbox_drainer.housekeeping import Housekeeping, purge_interval_s
from promethean_outbox_drainer.loop import PassLoop
from promethean_outbox_drainer.metrics import DrainerMetrics
from promethean_outbox_drainer.notify import PollingNotifier, choose_notifier
from promethean_outbox_drainer.passes import OutboxPass, PassConfig

TOPIC = "orders.placed"
CONFIG = PassConfig(
    claimer="loop", batch=7, lease_ms=5_000, max_attempts=3, backoff_ms=10, backoff_max_ms=10
)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore("memory://loop-test")
    await memory.open()
    yield memory
    await memory.close()


async def test_the_loop_claims_nothing_while_disconnected_then_drains_and_stops(
    store: MemoryStore, bus: InMemoryBroker
) -> None:
    rows = [new_row(TOPIC, {"n": n}, key=None, headers=None, id=None) for n in range(20)]
    await store.outbox_insert(rows)
    connected = False
    notifier = PollingNotifier("test")
    loop = PassLoop(
        OutboxPass(store, bus, CONFIG, SystemClock()),
        notifier,
        lambda: connected,
        poll_ms=10,
        progress=Progress(1000),
        readiness=Readiness(),
        timer=JobTimer(),
    )
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.1)
    stats = await store.outbox_stats(SystemClock().now_ms())
    assert (stats.pending, stats.claimed) == (20, 0)

    connected = True

    async def all_published() -> bool:
        return (await store.outbox_stats(SystemClock().now_ms())).published == 20

    deadline = asyncio.get_running_loop().time() + 5
    while not await all_published():
        assert asyncio.get_running_loop().time() < deadline, "rows were not drained"
        await asyncio.sleep(0.01)
    assert loop.timer.count >= 3  # batches of 7

    loop.stop()
    await asyncio.wait_for(task, 2)


async def test_housekeeping_counts_rows_and_purges_after_retention(store: MemoryStore) -> None:
    clock = FakeClock()
    registry = CollectorRegistry()
    keeper = Housekeeping(store, DrainerMetrics(registry), clock, Readiness(), retention_ms=60_000)
    old = new_row(TOPIC, 1, key=None, headers=None, id="old", created_ms=clock.now_ms())
    young = new_row(TOPIC, 2, key=None, headers=None, id="young", created_ms=clock.now_ms())
    waiting = new_row(TOPIC, 3, key=None, headers=None, id="waiting", created_ms=clock.now_ms())
    await store.outbox_insert([old, young, waiting])
    await store.outbox_claim("d", 3, 1000, clock.now_ms())  # "waiting"'s claim lapses
    await store.outbox_mark_published("d", ["old"], clock.now_ms())
    clock.advance(30_000)
    await store.outbox_mark_published("d", ["young"], clock.now_ms())
    clock.advance(31_000)

    await keeper.refresh_stats()
    assert registry.get_sample_value("promethean_outbox_rows", {"status": "published"}) == 2
    assert registry.get_sample_value("promethean_outbox_rows", {"status": "pending"}) == 1
    assert registry.get_sample_value("promethean_outbox_oldest_pending_age_seconds") == 61
    assert keeper.pending == 1

    assert await keeper.purge() == 1
    assert await store.outbox_get("old") is None
    young_row = await store.outbox_get("young")
    assert young_row is not None
    assert young_row.status is OutboxStatus.PUBLISHED
    assert registry.get_sample_value("promethean_outbox_purged_total") == 1


def test_purges_run_at_a_tenth_of_the_retention_within_bounds() -> None:
    assert purge_interval_s(0) == 1.0
    assert purge_interval_s(100_000) == 10.0
    assert purge_interval_s(86_400_000) == 60.0


async def test_stores_without_change_streams_are_polled(store: MemoryStore) -> None:
    notifier = choose_notifier(store)
    assert notifier.mode == "polling"
    assert "polling the outbox every 250 ms" in notifier.describe(250)
