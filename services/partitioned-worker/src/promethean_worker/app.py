"""The worker application: ``create_app(settings)`` resolves the handlers and
builds the `WorkerRuntime`, which starts in order: watchdog → monitor →
broker connection → handlers → subscriptions → heartbeat and lag loops, and
drains in reverse on SIGTERM. Serves the health routes and ``/assignment``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from promethean.client.port import BusClient
from promethean.client.ws import ClientConfig
from promethean.clock import SystemClock
from promethean.projectors.contract import HandlerContext
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.broker_link import BrokerLink, LinkHealth
from promethean.runtime.exit_codes import EXIT_FAILED
from promethean.runtime.http import json_response
from promethean.runtime.kit import service_kit
from promethean.runtime.tasks import TaskSet
from promethean.store import open_store
from promethean.store.port import Store
from promethean_worker.dispatch import BoundHandler, Dispatcher
from promethean_worker.intake import Intake
from promethean_worker.lag import LagPoller
from promethean_worker.metrics import WorkerMetrics
from promethean_worker.monitor import WorkerMonitor
from promethean_worker.registry import ResolvedHandler, resolve_all
from promethean_worker.settings import WorkerSettings

log = logging.getLogger("promethean.worker")

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
        self.kit = service_kit(settings.common, depends_on="broker", drain=self.drain)
        self.metrics = WorkerMetrics(self.kit.registry)
        self.monitor = WorkerMonitor(self.kit, self.metrics)
        self.link = BrokerLink(
            settings.bus_url,
            self._client_config(),
            health=LinkHealth(
                self.kit.dependency,
                self.kit.readiness,
                self.kit.progress,
                settings.common.disconnect_kill_ms,
            ),
            environ=environ,
        )
        self.kit.readiness.fail("intake", "not subscribed yet")
        self.bus: BusClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.intake: Intake | None = None
        self._store: Store | None = None
        self._store_lock = asyncio.Lock()
        self._loops = TaskSet()
        """Heartbeat and lag: they run until the drain has left the group."""

    # -- start ----------------------------------------------------------------

    async def start(self) -> None:
        self.kit.start_watchdog()
        self.kit.tasks.spawn(
            self.monitor.run(lambda: self.link.connected, lambda: self.dispatcher), "monitor"
        )
        self.kit.tasks.spawn(self.link.follow(), "broker-link")
        self.kit.tasks.spawn(self._run(), "start")

    async def _run(self) -> None:
        try:
            self.bus = await self.link.connect()
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
            self.kit.stop(EXIT_FAILED)
            return
        self.kit.readiness.clear("intake")
        publisher = self.kit.heartbeat(
            self.bus, lambda: self.monitor.heartbeat_stats(self.dispatcher), self.clock.now_ms
        )
        self._loops.spawn(publisher.run(), "heartbeat")
        if self.settings.lag_poll_ms and hasattr(self.bus, "url"):
            self._loops.spawn(self._lag_poller().run(), "lag")
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
        return Dispatcher(routes, self.metrics, self.kit.progress, self.kit.timer)

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
        self.kit.pause_watchdog()
        await self.kit.tasks.cancel()
        if self.intake is not None:
            await self.intake.stop()
        if self.dispatcher is not None:
            self.dispatcher.accepting = False
            await self.dispatcher.close()
        await self._loops.cancel()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await self.bus.close()
        log.info(
            "worker drained",
            extra={"processed": self.dispatcher.processed if self.dispatcher else 0},
        )

    async def close(self) -> None:
        await self.kit.tasks.cancel()
        await self._loops.cancel()
        if self._store is not None:
            await self._store.close()


RUNTIME_KEY: Final = web.AppKey("runtime", WorkerRuntime)


def assignment_body(runtime: WorkerRuntime) -> dict[str, Any]:
    intake = runtime.intake
    topics: dict[str, Any] = {}
    if intake is not None:
        for topic, state in intake.topics.items():
            topics[topic] = {
                "owned": sorted(state.owned),
                "generation": state.generation,
                "rebalances": state.rebalances,
            }
    dispatcher = runtime.dispatcher
    return {
        "instance_id": runtime.settings.instance_id,
        "group": runtime.settings.group,
        "partitioned": intake.partitioned if intake is not None else None,
        "topics": topics,
        "processed": dispatcher.processed if dispatcher is not None else 0,
        "inflight": dispatcher.inflight if dispatcher is not None else 0,
    }


async def assignment(request: web.Request) -> web.Response:
    return json_response(assignment_body(request.app[RUNTIME_KEY]))


def create_app(settings: WorkerSettings) -> web.Application:
    """The worker's app; `SettingsError` when a handler cannot be resolved."""
    runtime = WorkerRuntime(settings, resolve_all(settings), os.environ)
    app = service_app(runtime, RUNTIME_KEY)
    app.add_routes([web.get("/assignment", assignment)])
    return app


SERVICE_SPEC: Final = ServiceSpec(WorkerSettings, create_app)
