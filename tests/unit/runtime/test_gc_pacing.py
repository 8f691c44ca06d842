"""The GC pacer: frozen survivors are out of the collector's reach, still
freed by reference counting, and their cycles are reclaimed by the sweep,
which runs on net growth of a quarter or when the longest interval is up,
never on steady traffic; every collection's pause is exported."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from promethean.runtime import gc_pacing
from promethean.runtime.gc_pacing import SWEEP_GROWTH, GcPacer, GcPacing

HOUR_MS = 3_600_000


class Node:
    peer: Node | None = None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    callbacks = list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.callbacks[:] = callbacks


def pacer(
    freeze_ms: int = 5000, sweep_ms: int = HOUR_MS, registry: CollectorRegistry | None = None
) -> tuple[GcPacer, FakeClock]:
    clock = FakeClock()
    return GcPacer(GcPacing(freeze_ms, sweep_ms), registry, clock=clock), clock


def cycle() -> weakref.ref[Node]:
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    return weakref.ref(first)


def test_a_cycle_frozen_before_it_became_garbage_waits_for_the_sweep() -> None:
    paced, _ = pacer()
    paced.sweep()
    ref = cycle()  # unreachable now, but frozen before any collection saw it
    paced.freeze()
    gc.collect()
    assert ref() is not None, "a full collection must not walk frozen objects"
    assert paced.sweep() >= 2
    assert ref() is None


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    paced, _ = pacer()
    held = Node()
    ref = weakref.ref(held)
    paced.freeze()
    del held
    assert ref() is None


def test_a_quarter_of_net_growth_triggers_a_sweep() -> None:
    paced, _ = pacer()
    paced.sweep()
    baseline = gc.get_freeze_count()
    paced.tick()
    assert paced.sweeps == 1, "no growth, no sweep"
    grown = [[] for _ in range(int(baseline * (SWEEP_GROWTH + 0.1)))]
    paced.tick()
    assert paced.sweeps == 2
    paced.tick()
    assert paced.sweeps == 2, "the sweep reset the baseline"
    del grown


def test_growth_counts_from_the_low_point_since_the_sweep() -> None:
    paced, _ = pacer()
    shrinking = [[] for _ in range(50_000)]
    paced.sweep()
    del shrinking
    paced.tick()  # the frozen set is now smaller: that is the new low point
    low = gc.get_freeze_count()
    regrown = [[] for _ in range(int(low * SWEEP_GROWTH) + 1_000)]
    paced.tick()
    assert paced.sweeps == 2
    del regrown


def test_steady_traffic_never_sweeps_and_the_longest_interval_does() -> None:
    paced, clock = pacer(sweep_ms=60_000)
    paced.sweep()
    for _ in range(20):
        churn = [[] for _ in range(1_000)]
        del churn
        clock.now += 2.0
        paced.tick()
    assert paced.sweeps == 1
    clock.now += 60.0
    paced.tick()
    assert paced.sweeps == 2


def test_the_sweep_counts_what_it_reclaimed_in_the_registry() -> None:
    registry = CollectorRegistry()
    paced, _ = pacer(registry=registry)
    paced.sweep()
    refs = [cycle() for _ in range(100)]
    paced.freeze()
    reclaimed = paced.sweep()
    assert reclaimed >= 200
    assert all(ref() is None for ref in refs)
    assert registry.get_sample_value("promethean_gc_sweeps_total") == 2
    assert registry.get_sample_value("promethean_gc_sweep_reclaimed_objects_total") == (
        paced.reclaimed
    )
    # Frozen objects may still die by reference counting after the sweep
    # (another thread's garbage): the count can only fall until the next freeze.
    exported = registry.get_sample_value("promethean_gc_frozen_objects")
    assert exported is not None
    assert gc.get_freeze_count() <= exported <= gc.get_freeze_count() + 1_000


async def test_start_freezes_in_the_background_and_exports_every_pause() -> None:
    registry = CollectorRegistry()
    paced, _ = pacer(freeze_ms=10, registry=registry)
    paced.start()
    try:
        assert paced.sweeps == 1, "start-up leftovers are collected once"
        gc.unfreeze()
        await asyncio.sleep(0.1)
        assert gc.get_freeze_count() > 0, "the background task froze again"
        gc.collect(1)
        count = registry.get_sample_value("promethean_gc_pause_seconds_count", {"generation": "1"})
        assert count is not None
        assert count >= 1
    finally:
        await paced.stop()
    assert paced._on_collection not in gc.callbacks
    before = registry.get_sample_value("promethean_gc_pause_seconds_count", {"generation": "2"})
    gc.collect()
    after = registry.get_sample_value("promethean_gc_pause_seconds_count", {"generation": "2"})
    assert after == before, "a stopped pacer observes nothing"


async def test_disabled_pacing_leaves_the_collector_alone_but_still_observes() -> None:
    registry = CollectorRegistry()
    paced, _ = pacer(freeze_ms=0, registry=registry)
    paced.start()
    try:
        assert not paced.pacing.enabled
        assert gc.get_freeze_count() == 0
        assert paced.sweeps == 0
        gc.collect()
        count = registry.get_sample_value("promethean_gc_pause_seconds_count", {"generation": "2"})
        assert count is not None
        assert count >= 1
    finally:
        await paced.stop()


def test_resident_memory_growth_triggers_a_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = {"now": 200 * 2**20}
    monkeypatch.setattr(gc_pacing, "resident_bytes", lambda: rss["now"])
    paced, _ = pacer()
    paced.sweep()
    rss["now"] = 240 * 2**20  # +20 %: not yet
    paced.tick()
    assert paced.sweeps == 1
    rss["now"] = 260 * 2**20  # +30 %
    paced.tick()
    assert paced.sweeps == 2
    rss["now"] = 280 * 2**20  # +8 % over the new baseline
    paced.tick()
    assert paced.sweeps == 2


def test_small_processes_do_not_sweep_on_a_few_megabytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rss = {"now": 40 * 2**20}
    monkeypatch.setattr(gc_pacing, "resident_bytes", lambda: rss["now"])
    paced, _ = pacer()
    paced.sweep()
    rss["now"] = 70 * 2**20  # +75 %, but under the 32 MiB floor
    paced.tick()
    assert paced.sweeps == 1


def test_resident_bytes_reads_this_process() -> None:
    measured = gc_pacing.resident_bytes()
    assert measured is not None
    assert 10 * 2**20 < measured < 4 * 2**30


async def test_a_failing_tick_is_logged_and_pacing_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    paced, _ = pacer(freeze_ms=10)
    calls = 0

    def flaky_tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    monkeypatch.setattr(paced, "tick", flaky_tick)
    paced.start()
    await asyncio.sleep(0.1)
    await paced.stop()  # does not raise
    assert calls >= 2
    assert "gc pacing failed" in caplog.text
