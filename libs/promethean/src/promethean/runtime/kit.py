"""The parts every service runs with, built once from its common settings.

A service's runtime holds one `ServiceKit` (``runtime.kit``): the metrics
registry, progress (liveness), readiness, lifecycle (how to stop), the state
of the one dependency the watchdog judges (the store or the broker), the
watchdog, the job timer its heartbeat reports, and its background tasks.
`serve` and the shared health routes read the kit from the app (`KIT_KEY`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry

from promethean.runtime.health import Dependency, JobTimer, Progress, Readiness
from promethean.runtime.heartbeat import HeartbeatPublisher, HeartbeatStats, Publisher
from promethean.runtime.lifecycle import Lifecycle
from promethean.runtime.tasks import TaskSet
from promethean.runtime.watchdog import Watchdog
from promethean.settings import CommonSettings

WATCHDOG_CHECK_MAX_MS: Final = 250
"""The watchdog looks at least this often, and four times per stall limit."""

Drain = Callable[[], Awaitable[None]]
NowMs = Callable[[], int]


@dataclass(eq=False)
class ServiceKit:
    """What one running service is made of besides its own work."""

    name: str
    heartbeat_ms: int
    registry: CollectorRegistry
    progress: Progress
    readiness: Readiness
    lifecycle: Lifecycle
    dependency: Dependency
    """What the watchdog exits 70 over when it stays unreachable."""
    watchdog: Watchdog
    timer: JobTimer
    """The average job duration heartbeats report."""
    tasks: TaskSet = field(default_factory=TaskSet)
    drain: Drain | None = None
    """The service's own drain on SIGTERM (stop intake, finish or give back
    in-flight work), run by `serve` after readiness went false."""
    scheme: str = "http"
    """How clients reach the service, for the start-up line (``ws``, ``http``)."""
    detail: str = ""
    """What the start-up line adds (``store sqlite:///…``, ``broker ws://…``)."""
    _watchdog_thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def stop(self, exit_code: int = 0) -> None:
        self.lifecycle.stop(exit_code)

    def start_watchdog(self) -> None:
        """Start the watchdog's thread, once."""
        if self._watchdog_thread is None:
            self._watchdog_thread = self.watchdog.start_thread()

    def pause_watchdog(self) -> None:
        """During a drain: the drain's own hard cap supervises the exit."""
        self.watchdog.paused = True

    def heartbeat_stats(
        self,
        *,
        connected: bool,
        queue: int = 0,
        inflight: int = 0,
        timer: JobTimer | None = None,
    ) -> HeartbeatStats:
        """A heartbeat's figures; the last progress and the average job
        duration (``timer``, by default the kit's) come from the kit."""
        return HeartbeatStats(
            connected=connected,
            queue=queue,
            inflight=inflight,
            last_progress_ts=self.progress.last_wall_ms,
            avg_job_ms=(timer or self.timer).avg_ms,
        )

    def heartbeat(
        self, bus: Publisher, stats: Callable[[], HeartbeatStats], now_ms: NowMs
    ) -> HeartbeatPublisher:
        """The service's heartbeat to ``heartbeat.received``, every PROMETHEAN_HEARTBEAT_MS."""
        return HeartbeatPublisher(bus, self.name, self.heartbeat_ms, stats, now_ms)


def service_kit(
    common: CommonSettings,
    *,
    depends_on: str,
    drain: Drain | None = None,
    scheme: str = "http",
    detail: str = "",
) -> ServiceKit:
    """The kit of the service ``common.service``, whose watchdog judges the
    dependency named ``depends_on`` (``store`` or ``broker``)."""
    progress = Progress(common.liveness_max_stall_ms)
    readiness = Readiness()
    dependency = Dependency(depends_on)
    return ServiceKit(
        name=common.service,
        heartbeat_ms=common.heartbeat_ms,
        registry=CollectorRegistry(),
        progress=progress,
        readiness=readiness,
        lifecycle=Lifecycle(readiness),
        dependency=dependency,
        watchdog=Watchdog(
            progress,
            dependency,
            disconnect_kill_ms=common.disconnect_kill_ms,
            check_every_ms=min(WATCHDOG_CHECK_MAX_MS, common.liveness_max_stall_ms // 4),
        ),
        timer=JobTimer(),
        drain=drain,
        scheme=scheme,
        detail=detail,
    )


KIT_KEY: Final = web.AppKey("kit", ServiceKit)
"""Where a service's app holds its kit, for `serve` and the health routes."""
