"""The drainer application: ``create_app(settings)`` wires store → broker
link → drain loop, housekeeping, heartbeat and watchdog → routes, and
tears them down in reverse.

The HTTP server answers at once: ``/healthz/ready`` stays 503 until the
broker is connected and the store answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry

from promethean.client import ClientConfig
from promethean.clock import SystemClock
from promethean.runtime.broker_link import BrokerLink, LinkHealth
from promethean.runtime.health import Dependency, JobTimer, Progress, Readiness
from promethean.runtime.heartbeat import HeartbeatPublisher, HeartbeatStats
from promethean.runtime.http import service_routes
from promethean.runtime.service import Lifecycle
from promethean.runtime.watchdog import Watchdog
from promethean.store import open_store
from promethean.store.port import Store
from promethean_outbox_drainer.housekeeping import Housekeeping
from promethean_outbox_drainer.loop import PassLoop
from promethean_outbox_drainer.metrics import DrainerMetrics
from promethean_outbox_drainer.notify import Notifier, choose_notifier
from promethean_outbox_drainer.passes import OutboxPass, PassConfig
from promethean_outbox_drainer.settings import SERVICE, DrainerSettings

log = logging.getLogger("promethean.outbox_drainer")

EXIT_FAILED: Final = 1
PUBLISH_TIMEOUT_SHARE: Final = 0.8
"""A publish gives up (the row waits for the broker) before its lease lapses."""


class DrainerRuntime:
    """Everything the drainer holds while it runs."""

    def __init__(self, settings: DrainerSettings, store: Store | None = None) -> None:
        self.settings = settings
        common = settings.common
        self.clock = SystemClock()
        self.store = store or open_store(settings.store_url)
        self.registry = CollectorRegistry()
        self.metrics = DrainerMetrics(self.registry)
        self.progress = Progress(common.liveness_max_stall_ms)
        self.readiness = Readiness()
        self.lifecycle = Lifecycle(self.readiness)
        self.dependency = Dependency("broker")
        self.timer = JobTimer()
        token = common.broker_token.reveal() if common.broker_token is not None else None
        publish_timeout_s = max(1.0, settings.lease_ms * PUBLISH_TIMEOUT_SHARE / 1000)
        self.link = BrokerLink(
            settings.bus_url,
            ClientConfig(token=token, publish_timeout_s=publish_timeout_s),
            health=LinkHealth(
                self.dependency, self.readiness, self.progress, common.disconnect_kill_ms
            ),
        )
        self.watchdog = Watchdog(
            self.progress, self.dependency, disconnect_kill_ms=common.disconnect_kill_ms
        )
        self.housekeeping = Housekeeping(
            self.store, self.metrics, self.clock, self.readiness, settings.retention_ms
        )
        self.notifier: Notifier | None = None
        self.loop: PassLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def drain_config(self) -> PassConfig:
        s = self.settings
        return PassConfig(
            claimer=s.drainer_id,
            batch=s.batch,
            lease_ms=s.lease_ms,
            max_attempts=s.max_attempts,
            backoff_ms=s.backoff_ms,
            backoff_max_ms=s.backoff_max_ms,
        )

    async def start(self) -> None:
        await self.store.open()
        self.notifier = choose_notifier(self.store)
        log.info(
            f"outbox drainer {self.settings.drainer_id}: "
            + self.notifier.describe(self.settings.poll_ms),
            extra={"mode": self.notifier.mode, "store": self.store.url},
        )
        await self.notifier.start()
        self.watchdog.start_thread()
        self._spawn(self.link.follow(), "broker-link")
        self._spawn(self.housekeeping.run(), "housekeeping")
        self._main = asyncio.create_task(self._drain(self.notifier), name="drain")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _drain(self, notifier: Notifier) -> None:
        try:
            await self._connect_and_drain(notifier)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the drain loop failed; stopping")
            self.lifecycle.stop(EXIT_FAILED)

    async def _connect_and_drain(self, notifier: Notifier) -> None:
        bus = await self.link.connect()
        drainer = OutboxPass(self.store, bus, self.drain_config(), self.clock, self.metrics)
        self.loop = PassLoop(
            drainer,
            notifier,
            lambda: self.link.connected,
            poll_ms=self.settings.poll_ms,
            progress=self.progress,
            readiness=self.readiness,
            timer=self.timer,
        )
        heartbeat = HeartbeatPublisher(
            bus,
            SERVICE,
            self.settings.common.heartbeat_ms,
            lambda: HeartbeatStats(
                connected=self.link.connected,
                queue=self.housekeeping.pending,
                inflight=drainer.inflight,
                last_progress_ts=self.progress.last_wall_ms,
                avg_job_ms=self.timer.avg_ms,
            ),
            self.clock.now_ms,
        )
        self._spawn(heartbeat.run(), "heartbeat")
        await self.loop.run()

    async def drain(self) -> None:
        """SIGTERM: finish the pass under way (publish and mark), claim no more."""
        self.watchdog.paused = True
        if self.loop is not None:
            self.loop.stop()
        main = self._main
        if main is None:
            return
        if self.loop is None:
            main.cancel()  # still connecting: nothing claimed yet
        with contextlib.suppress(asyncio.CancelledError):
            await main

    async def close(self) -> None:
        self.readiness.fail("drain", "shutting down")
        tasks = [*self._tasks, *([self._main] if self._main is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.notifier is not None:
            await self.notifier.close()
        await self.link.close()
        await self.store.close()


RUNTIME_KEY: Final = web.AppKey("runtime", DrainerRuntime)


def create_app(settings: DrainerSettings, store: Store | None = None) -> web.Application:
    runtime = DrainerRuntime(settings, store)
    app = web.Application()
    app[RUNTIME_KEY] = runtime

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifespan)
    app.add_routes(service_routes(runtime.registry, runtime.progress, runtime.readiness))
    return app
