"""The worker's monitor: progress and the broker gauge, every round.

- Progress ticks when a message is handled, and on every round while no
  handler call has been running longer than one round; a handler that
  blocks (awaiting forever, or blocking the event loop) stops the ticks, so
  ``/healthz/live`` fails and the watchdog exits with 71.
- The broker's dependency and readiness condition are the `BrokerLink`'s
  (its `LinkHealth`), as in every service; the monitor only mirrors the
  link's state into ``promethean_worker_broker_connected``. Disconnected
  longer than ``PROMETHEAN_DISCONNECT_KILL_MS``: exit 70.
- The watchdog (in the `ServiceKit`) runs on its own thread with its own
  event loop, so it still judges (and exits) when a handler blocks the
  worker's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from promethean.runtime.heartbeat import HeartbeatStats
from promethean.runtime.kit import ServiceKit
from promethean_worker.dispatch import Dispatcher
from promethean_worker.metrics import WorkerMetrics

MONITOR_MAX_S: Final = 0.25

Connected = Callable[[], bool]
DispatcherRef = Callable[[], Dispatcher | None]


class WorkerMonitor:
    def __init__(self, kit: ServiceKit, metrics: WorkerMetrics) -> None:
        self._kit = kit
        self._metrics = metrics
        self.round_s = min(MONITOR_MAX_S, kit.progress.max_stall_ms / 4000)

    def observe(self, connected: bool, dispatcher: Dispatcher | None) -> None:
        """One round: the broker gauge and progress."""
        self._metrics.broker_connected.set(1 if connected else 0)
        if dispatcher is None or dispatcher.oldest_inflight_s() < self.round_s * 2:
            self._kit.progress.tick()

    async def run(self, connected: Connected, dispatcher: DispatcherRef) -> None:
        while True:
            self.observe(connected(), dispatcher())
            await asyncio.sleep(self.round_s)

    def heartbeat_stats(self, dispatcher: Dispatcher | None) -> HeartbeatStats:
        return self._kit.heartbeat_stats(
            connected=self._kit.dependency.connected,
            inflight=dispatcher.inflight if dispatcher is not None else 0,
        )
