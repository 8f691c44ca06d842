"""Keeping the cycle collector's pauses short in a long-running service.

CPython's full (generation 2) collection walks every tracked object while
the event loop waits, so in a service holding many connections every
message in flight during one is late by the whole pause (docs/decisions.md,
"The cycle collector is paced", has the measured pause and what it did to
the gateway's p99). Almost everything that old is connection state living
as long as its connection, so scanning it again and again finds nothing.

The pacer moves what has survived until now out of the collector's reach
(`gc.freeze`) every ``freeze_ms``; the young generations are collected as
usual, so the automatic full collections only walk what arrived since the
last freeze. Frozen objects are still freed by reference counting the
moment they are dropped; only reference cycles among them wait, until a
sweep (unfreeze, one full collection, freeze). A sweep runs when the frozen
set grew by a quarter over its smallest size since the last sweep (CPython's
own rule for full collections, applied to net growth instead of to every
promotion, so steady traffic never triggers one), when the resident memory
grew by a quarter since the last sweep (cycles may hold large buffers the
object count does not show), and at least every ``sweep_ms``. That bounds
the garbage; the sweep is the one long pause left.
Every collection's pause and what the sweeps reclaimed are exported, so the
trade shows on the dashboard (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from promethean.settings.gc import GcPacing as GcPacing

log = logging.getLogger("promethean.gc")

SWEEP_GROWTH: Final = 0.25
"""A sweep is due once the frozen set is this much larger than its low
point, or the resident memory this much larger than after the last sweep."""
MIN_RSS_GROWTH_BYTES: Final = 32 * 1024 * 1024
"""Resident memory growth below this never triggers a sweep (small processes)."""
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PAUSE_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class GcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.pause = Histogram(
            "promethean_gc_pause_seconds",
            "Event-loop pause of each cycle collection, by generation",
            ["generation"],
            buckets=PAUSE_BUCKETS_S,
            registry=registry,
        )
        self.frozen = Gauge(
            "promethean_gc_frozen_objects",
            "Objects moved out of the collector's reach at the last freeze",
            registry=registry,
        )
        self.sweeps = Counter(
            "promethean_gc_sweeps_total",
            "Full collections of the frozen objects",
            registry=registry,
        )
        self.reclaimed = Counter(
            "promethean_gc_sweep_reclaimed_objects_total",
            "Unreachable objects (reference cycles) the sweeps found",
            registry=registry,
        )
        self.pause_by_generation = [self.pause.labels(str(g)) for g in range(3)]


class GcPacer:
    def __init__(
        self,
        pacing: GcPacing,
        registry: CollectorRegistry | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pacing = pacing
        self._metrics = GcMetrics(registry) if registry is not None else None
        self._clock = clock
        self._next_sweep = clock() + pacing.sweep_ms / 1000
        self._low_point = 0
        """Smallest frozen set since the last sweep."""
        self._rss_after_sweep: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._pause_started = 0.0
        self.sweeps = 0
        self.reclaimed = 0

    def start(self) -> None:
        """Observe every collection; when pacing is on, collect and freeze
        what start-up left behind, then keep freezing in the background."""
        if self._metrics is not None:
            gc.callbacks.append(self._on_collection)
        if not self.pacing.enabled:
            return
        self.sweep()
        self._task = asyncio.create_task(self._run(), name="gc-pacer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_collection)

    def freeze(self) -> int:
        gc.freeze()
        frozen = gc.get_freeze_count()
        self._low_point = min(self._low_point, frozen)
        if self._metrics is not None:
            self._metrics.frozen.set(frozen)
        return frozen

    def sweep(self) -> int:
        """One full collection over everything, frozen or not; returns the
        unreachable objects it found."""
        started = time.perf_counter()
        gc.unfreeze()
        reclaimed = gc.collect()
        gc.freeze()
        self._low_point = gc.get_freeze_count()
        self._rss_after_sweep = resident_bytes()
        self._next_sweep = self._clock() + self.pacing.sweep_ms / 1000
        self.sweeps += 1
        self.reclaimed += reclaimed
        if self._metrics is not None:
            self._metrics.frozen.set(self._low_point)
            self._metrics.sweeps.inc()
            self._metrics.reclaimed.inc(reclaimed)
        log.info(
            "gc sweep",
            extra={
                "reclaimed": reclaimed,
                "frozen": self._low_point,
                "pause_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return reclaimed

    def tick(self) -> None:
        """Freeze, then sweep if the frozen set grew enough or the longest
        interval is up."""
        frozen = self.freeze()
        if (
            frozen > self._low_point * (1 + SWEEP_GROWTH)
            or self._memory_grew()
            or self._clock() >= self._next_sweep
        ):
            self.sweep()

    def _memory_grew(self) -> bool:
        before = self._rss_after_sweep
        now = resident_bytes()
        if before is None or now is None:
            return False
        return now - before > max(before * SWEEP_GROWTH, MIN_RSS_GROWTH_BYTES)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.pacing.freeze_ms / 1000)
            try:
                self.tick()
            except Exception:
                log.exception("gc pacing failed; retrying at the next interval")

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._pause_started = time.perf_counter()
        elif self._metrics is not None:
            pause = time.perf_counter() - self._pause_started
            self._metrics.pause_by_generation[info["generation"]].observe(pause)


def resident_bytes() -> int | None:
    """This process's resident memory, from ``/proc`` (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return None
