"""Everything the worker holds while it runs, started and stopped in order:
watchdog → monitor → broker connection → handlers → subscriptions →
heartbeat and lag loops; drained in reverse on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry

from promethean.client.port import BusClient
from promethean.client.ws import ClientConfig
from promethean.clock import SystemClock
from promethean.projectors.contract import HandlerContext
from promethean.runtime.broker_link import BrokerLink
from promethean.runtime.heartbeat import HeartbeatPublisher
from promethean.runtime.service import Lifecycle
from promethean.store import open_store
from promethean.store.port import Store
from promethean_worker.dispatch import BoundHandler, Dispatcher
from promethean_worker.health import WorkerHealth
from promethean_worker.intake import Intake
from promethean_worker.lag import LagPoller
from promethean_worker.metrics import WorkerMetrics
from promethean_worker.registry import ResolvedHandler
from promethean_worker.settings import SERVICE, WorkerSettings

log = logging.getLogger("promethean.worker")

EXIT_START_FAILED: Final = 1
DRAIN_SHARE_FOR_HANDLERS: Final = 0.8
"""Share of PROMETHEAN_DRAIN_MS running handlers get to finish; the rest
is for leaving the group and flushing acks."""


class WorkerRuntime:
    def __init__(
        self,
        settings: WorkerSettings,
        handlers: list[ResolvedHandler],
        environ: Mapping[str, str],
    ) -> None:
        self.settings = settings
        self.handlers = handlers
        self.environ = environ
        self.clock = SystemClock()
        self.registry = CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.health = WorkerHealth(settings.common, self.metrics)
        self.lifecycle = Lifecycle(readiness=self.health.readiness)
        self.bus: BusClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.intake: Intake | None = None
        self._store: Store | None = None
        self._store_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._loops: list[asyncio.Task[None]] = []

    # -- start ----------------------------------------------------------------

    async def start(self) -> None:
        self.health.start_watchdog()
        self._spawn(self.health.monitor(lambda: self.bus, lambda: self.dispatcher), "monitor")
        self._spawn(self._run(), "start")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str, *, loop: bool = False) -> None:
        task = asyncio.create_task(coro, name=name)
        (self._loops if loop else self._tasks).append(task)

    async def _run(self) -> None:
        try:
            self.bus = await self._connect()
            self.dispatcher = await self._start_handlers(self.bus)
            self.intake = Intake(
                self.bus,
                self.settings.group,
                self.settings.instance_id,
                self.dispatcher,
                self.metrics,
                max_inflight=self.settings.max_inflight,
                start="earliest",
            )
            await self.intake.start(self.dispatcher.routes)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the worker could not start")
            self.lifecycle.stop(EXIT_START_FAILED)
            return
        self.health.readiness.clear("intake")
        publisher = HeartbeatPublisher(
            self.bus,
            SERVICE,
            self.settings.common.heartbeat_ms,
            lambda: self.health.heartbeat_stats(self.dispatcher),
            self.clock.now_ms,
        )
        self._spawn(publisher.run(), "heartbeat", loop=True)
        if self.settings.lag_poll_ms and hasattr(self.bus, "url"):
            self._spawn(self._lag_poller().run(), "lag", loop=True)
        log.info(
            "worker started",
            extra={
                "instance_id": self.settings.instance_id,
                "group": self.settings.group,
                "topics": ",".join(self.dispatcher.routes),
                "partitioned": self.intake.partitioned,
            },
        )

    def _client_config(self) -> ClientConfig:
        common = self.settings.common
        return ClientConfig(
            token=common.broker_token.reveal() if common.broker_token else None,
            heartbeat_s=common.heartbeat_ms / 1000,
            connect_timeout_s=max(1.0, common.heartbeat_ms / 1000),
            stop_grace_s=common.drain_ms * DRAIN_SHARE_FOR_HANDLERS / 1000,
        )

    async def _connect(self) -> BusClient:
        """Connect, retrying while the broker is unreachable (the watchdog
        ends the wait after PROMETHEAN_DISCONNECT_KILL_MS); the client then
        re-subscribes and re-joins its groups after every loss itself."""
        link = BrokerLink(self.settings.bus_url, self._client_config(), environ=self.environ)
        return await link.connect()

    async def _start_handlers(self, bus: BusClient) -> Dispatcher:
        context = HandlerContext(
            bus=bus,
            clock=self.clock,
            environ=self.environ,
            instance_id=self.settings.instance_id,
            heartbeat_ms=self.settings.common.heartbeat_ms,
            liveness_max_stall_ms=self.settings.common.liveness_max_stall_ms,
            open_store=self.open_store,
        )
        routes: dict[str, list[BoundHandler]] = {}
        for resolved in self.handlers:
            handler = await resolved.spec.start(context, resolved.topics)
            for topic in resolved.topics:
                routes.setdefault(topic, []).append(BoundHandler(resolved.spec.name, handler))
        return Dispatcher(routes, self.metrics, self.health.progress, self.health.timer)

    def _lag_poller(self) -> LagPoller:
        token = self.settings.common.broker_token

        def owned() -> dict[str, frozenset[int] | None]:
            intake = self.intake
            if intake is None:
                return {}
            if not intake.partitioned:
                return dict.fromkeys(intake.topics)
            return dict(intake.owned())

        return LagPoller(
            self.settings.broker_http_url,
            self.settings.group,
            token.reveal() if token else None,
            self.metrics,
            owned,
            self.settings.lag_poll_ms,
        )

    async def open_store(self) -> Store:
        async with self._store_lock:
            if self._store is None:
                store = open_store(self.settings.store_url)
                await store.open()
                self._store = store
            return self._store

    # -- stop -----------------------------------------------------------------

    async def drain(self) -> None:
        """SIGTERM: stop intake (running handlers finish and ack, the rest
        goes back to the group), leave the group, close handlers, flush."""
        self.health.pause_watchdog()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.intake is not None:
            await self.intake.stop()
        if self.dispatcher is not None:
            self.dispatcher.accepting = False
            await self.dispatcher.close()
        await self._cancel_loops()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await self.bus.close()
        log.info(
            "worker drained",
            extra={"processed": self.dispatcher.processed if self.dispatcher else 0},
        )

    async def _cancel_loops(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._cancel_loops()
        if self._store is not None:
            await self._store.close()
