"""The worker's health: progress, broker connection, readiness, watchdog.

- Progress ticks when a message is handled, and on every monitor round
  while no handler call has been running longer than one round; a handler
  that blocks (awaiting forever, or blocking the event loop) stops the
  ticks, so ``/healthz/live`` fails and the watchdog exits with 71.
- The broker counts as connected while the client says so (the client's
  WebSocket ping notices a silent broker within 1.5 heartbeat intervals).
  Disconnected longer than ``PROMETHEAN_DISCONNECT_KILL_MS``: exit 70.
- The watchdog runs on its own thread with its own event loop, so it still
  judges (and exits) when a handler blocks the worker's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Final

from promethean.client.port import BusClient
from promethean.runtime.health import Dependency, JobTimer, Progress, Readiness
from promethean.runtime.heartbeat import HeartbeatStats
from promethean.runtime.watchdog import Watchdog
from promethean.settings import CommonSettings
from promethean_worker.dispatch import Dispatcher
from promethean_worker.metrics import WorkerMetrics

log = logging.getLogger("promethean.worker")

MONITOR_MAX_S: Final = 0.25
BROKER: Final = "broker"

BusRef = Callable[[], BusClient | None]
DispatcherRef = Callable[[], Dispatcher | None]


class WorkerHealth:
    def __init__(self, common: CommonSettings, metrics: WorkerMetrics) -> None:
        self.progress = Progress(common.liveness_max_stall_ms)
        self.readiness = Readiness()
        self.readiness.fail(BROKER, "not connected yet")
        self.readiness.fail("intake", "not subscribed yet")
        self.dependency = Dependency(BROKER)
        self.timer = JobTimer()
        self.watchdog = Watchdog(
            self.progress,
            self.dependency,
            disconnect_kill_ms=common.disconnect_kill_ms,
            check_every_ms=min(250, common.liveness_max_stall_ms // 4),
        )
        self._metrics = metrics
        self.round_s = min(MONITOR_MAX_S, common.liveness_max_stall_ms / 4000)
        self._thread: threading.Thread | None = None

    # -- watchdog -----------------------------------------------------------

    def start_watchdog(self) -> None:
        if self._thread is None:
            self._thread = self.watchdog.start_thread()

    def pause_watchdog(self) -> None:
        """During a drain: the drain's own hard cap supervises the exit."""
        self.watchdog.paused = True

    # -- monitor ------------------------------------------------------------

    def observe(self, bus: BusClient | None, dispatcher: Dispatcher | None) -> None:
        """One round: broker connection and progress."""
        connected = bus is not None and bool(getattr(bus, "connected", True))
        if connected:
            self.dependency.up()
            self.readiness.clear(BROKER)
        else:
            self.dependency.down()
            self.readiness.fail(BROKER, f"broker unreachable for {self.dependency.down_for_ms} ms")
        self._metrics.broker_connected.set(1 if connected else 0)
        if dispatcher is None or dispatcher.oldest_inflight_s() < self.round_s * 2:
            self.progress.tick()

    async def monitor(self, get_bus: BusRef, dispatcher: DispatcherRef) -> None:
        while True:
            self.observe(get_bus(), dispatcher())
            await asyncio.sleep(self.round_s)

    def heartbeat_stats(self, dispatcher: Dispatcher | None) -> HeartbeatStats:
        return HeartbeatStats(
            connected=self.dependency.connected,
            queue=0,
            inflight=dispatcher.inflight if dispatcher is not None else 0,
            last_progress_ts=self.progress.last_wall_ms,
            avg_job_ms=self.timer.avg_ms,
        )
