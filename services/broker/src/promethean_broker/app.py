"""The broker application: ``create_app(settings)`` wires store →
registration → engine → ownership, controller and background loops →
routes, and tears them down in reverse.

Every broker is active: it registers itself in the store, owns the
partitions the controller's target gives it (promethean_broker/ownership.py)
and may take the controller role (promethean_broker/controller.py). The
HTTP server starts at once so health endpoints answer while the store
opens; WebSocket upgrades and the admin API answer 503 until the engine
runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Final

from aiohttp import web
from prometheus_client.metrics_core import Metric

from promethean.bus import BusEngine
from promethean.bus.coordinator import Coordinator
from promethean.bus.hooks import EngineHooks, FanoutHooks
from promethean.bus.offline_lag import OfflineLag
from promethean.clock import SystemClock
from promethean.errors import FencedError, StoreError
from promethean.names import MAX_FRAME_BYTES
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.exit_codes import EXIT_DISCONNECTED
from promethean.runtime.health import JobTimer, StoreHealth
from promethean.runtime.health_routes import health_routes
from promethean.runtime.heartbeat import (
    HEARTBEAT_TOPIC,
    HeartbeatStats,
    heartbeat_key,
    heartbeat_record,
)
from promethean.runtime.http import aborter, error_response
from promethean.runtime.kit import service_kit
from promethean.store import open_store
from promethean.store.port import Store
from promethean_broker.access import Access, access_control, with_caller
from promethean_broker.admin import AdminApi, json_errors
from promethean_broker.connection import BrokerConnection
from promethean_broker.console import Console
from promethean_broker.controller import Controller
from promethean_broker.metadata import ClusterView
from promethean_broker.metrics import BrokerMetrics, EngineStateCollector
from promethean_broker.ownership import PartitionOwnership
from promethean_broker.presence import BrokerPresence
from promethean_broker.registry import RegistryApi
from promethean_broker.seat import ClusterSeat
from promethean_broker.settings import BrokerSettings
from promethean_broker.system_topics import AUDIT_TOPIC, AuditHooks, SystemPublisher

log = logging.getLogger("promethean.broker")

TIMER_TICK_S = 0.05
RETENTION_SYNC_S = 5.0
"""How often the in-memory tails drop what retention removed from the store."""
STORE_RETRY_S = 1.0
"""How often a broker whose store cannot be opened tries again."""
STORE_OPEN_TIMEOUT_S = 5.0
"""An attempt to open the store taking longer counts as failed (a MongoDB
client would otherwise wait its 30 s server selection in silence)."""
STARTING = "starting: opening the store, registering, taking this broker's partitions"
CLOSE_CONNECTIONS_S = 1.0
"""How long a draining broker waits for its clients to answer the close."""


class BrokerRuntime:
    """Everything the broker holds while it runs."""

    def __init__(self, settings: BrokerSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.store = store or open_store(settings.store_url)
        self.kit = service_kit(
            settings.common, depends_on="store", scheme="ws", detail=f"store {self.store.url}"
        )
        self.metrics = BrokerMetrics(self.kit.registry, settings.metrics_max_label_sets)
        self.kit.readiness.fail("cluster", STARTING)
        self.store_health = StoreHealth(self.kit.readiness, self.kit.dependency)
        self.kit.progress.excuse_while(lambda: not self.store_health.healthy)
        ttl_ms, now_ms = settings.lease_ttl_ms, self.clock.now_ms
        self.presence = BrokerPresence(
            self.store,
            settings.broker_id,
            settings.advertised_address,
            ttl_ms,
            now_ms,
            health=self.store_health,
        )
        seat = ClusterSeat(self.store, settings.broker_id, ttl_ms, now_ms, self.store_health)
        self.ownership = PartitionOwnership(seat)
        self.controller = Controller(seat)
        self.cluster = ClusterView(self.store, now_ms)
        self.engine: BusEngine | None = None
        self.offline_lag: OfflineLag | None = None
        self.coordinator: Coordinator | None = None
        self.system = SystemPublisher(settings.broker_id)
        self.schemas = RegistryApi(self.store, self.clock)
        self.serving = asyncio.Event()
        """Set once this broker is registered and its engine runs."""
        self.connections: dict[str, BrokerConnection] = {}
        self.kit.registry.register(_LazyCollector(self))
        if self.token is None:
            log.warning("PROMETHEAN_BROKER_TOKEN is not set: the broker accepts any client")

    async def start(self) -> None:
        self.kit.tasks.spawn(self._serve(), "serve")

    async def _open_store(self) -> None:
        """Open the store, waiting (not ready) while it is unreachable or
        full: a supervisor restarting a broker that exits here would only
        loop (docs/operations.md, "Failure modes")."""
        while True:
            try:
                await asyncio.wait_for(self.store.open(), STORE_OPEN_TIMEOUT_S)
            except Exception as exc:
                reason = str(exc) or f"no answer within {STORE_OPEN_TIMEOUT_S:g} s"
                self.store_health.failed(f"cannot open the store: {reason}")
                await asyncio.sleep(STORE_RETRY_S)
                continue
            self.store_health.succeeded(settled=True)
            self.kit.dependency.up()
            return

    async def _register(self) -> None:
        """Register in the store, trying again while it fails."""
        while True:
            try:
                await self.presence.beat()
                return
            except Exception as exc:
                self.store_health.failed(f"cannot register the broker: {exc}")
                await asyncio.sleep(STORE_RETRY_S)

    async def _serve(self) -> None:
        await self._open_store()
        await self._register()
        self.engine = BusEngine(
            self.store,
            self.settings.engine_config(),
            self.clock,
            grants=self.ownership,
            hooks=FanoutHooks(
                self.metrics,
                AuditHooks(self.system, self.settings.audit_sample, self.clock.now_ms),
                _WriteTiming(self.kit.timer),
            ),
            check=self.schemas.gate,
        )
        self.ownership.writers = self.engine
        self.serving.set()
        self.kit.progress.tick()
        self.system.attach(self.engine)
        tasks = self.kit.tasks
        tasks.spawn(self.presence.run(), "presence")
        tasks.spawn(self.controller.run(self.ownership.every_s), "controller")
        tasks.spawn(self.ownership.run(), "ownership")
        tasks.spawn(self._ready_once_settled(), "settled")
        tasks.spawn(self.system.run(), "system-topics")
        if self.settings.system_metrics_ms > 0:
            tasks.spawn(
                self.system.publish_metrics_every(
                    self.settings.system_metrics_ms, self.connections
                ),
                "system-metrics",
            )
        tasks.spawn(self._heartbeats(), "heartbeats")
        self.offline_lag = OfflineLag(
            self.store,
            self.engine,
            max_groups=self.settings.lag_offline_groups_max,
            refresh_ms=self.settings.lag_refresh_ms,
        )
        tasks.spawn(self._offline_lag(self.engine, self.offline_lag), "lag")
        self.kit.start_watchdog()
        tasks.spawn(self._timers(self.engine), "timers")
        tasks.spawn(self._commits(self.engine), "commits")
        self.coordinator = Coordinator(
            self.engine,
            heartbeat_ms=self.settings.common.heartbeat_ms,
            session_timeout_ms=self.settings.session_timeout_ms,
        )
        tasks.spawn(self._sessions(self.coordinator), "sessions")

    async def _ready_once_settled(self) -> None:
        """Ready once this broker holds its share of the partitions (at
        once on a fresh store or when it is the only broker)."""
        await self.ownership.settled.wait()
        self.kit.readiness.clear("cluster")

    async def _timers(self, engine: BusEngine) -> None:
        while True:
            try:
                await engine.expire_due()
                self.kit.readiness.clear("timers")
            except FencedError:
                self.kit.stop(EXIT_DISCONNECTED)
                return
            except StoreError as exc:
                # Expired work stays in flight and is retried next pass.
                self.store_health.failed(f"redelivery failed: {exc}")
            except Exception as exc:
                # A dead timer loop would stop every redelivery for good.
                self.kit.readiness.fail("timers", f"redelivery failed: {exc}")
                log.exception("expiring deliveries failed")
            self.kit.progress.tick()
            await asyncio.sleep(TIMER_TICK_S)

    async def _commits(self, engine: BusEngine) -> None:
        interval = self.settings.commit_interval_ms / 1000
        loop = asyncio.get_running_loop()
        next_retention_sync = loop.time() + RETENTION_SYNC_S
        while True:
            await asyncio.sleep(interval)
            try:
                await engine.flush_commits()
                if loop.time() >= next_retention_sync:
                    next_retention_sync = loop.time() + RETENTION_SYNC_S
                    await engine.sync_retention()
                self.store_health.succeeded()
            except FencedError:
                self.kit.stop(EXIT_DISCONNECTED)
                return
            except StoreError as exc:
                self.store_health.failed(f"commit failed: {exc}")
            except Exception as exc:
                self.store_health.failed(f"commit failed: {exc}")
                log.exception("commit flush failed")

    async def _offline_lag(self, engine: BusEngine, offline: OfflineLag) -> None:
        """Default retention for old system topics once, then the lag of
        groups without a live member, every PROMETHEAN_LAG_REFRESH_MS."""
        try:
            changed = await engine.topics.backfill_retention()
            if changed:
                log.info("default retention applied", extra={"topics": ",".join(changed)})
        except Exception:
            log.exception("applying default retention failed")
        while True:
            try:
                await offline.refresh(self.clock.now_ms())
            except Exception:
                log.exception("refreshing the lag of offline groups failed")
            await asyncio.sleep(offline.refresh_ms / 1000)

    async def _sessions(self, coordinator: Coordinator) -> None:
        """Remove members whose session or revoke deadline passed."""
        interval = min(self.settings.session_timeout_ms / 4, 500) / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await coordinator.expire()
            except FencedError:
                self.kit.stop(EXIT_DISCONNECTED)
                return
            except Exception:
                log.exception("member session check failed")

    def require_engine(self) -> BusEngine:
        if self.engine is None:
            raise web.HTTPServiceUnavailable(
                body=b'{"error":{"code":"starting","msg":"' + STARTING.encode() + b'"}}',
                content_type="application/json",
            )
        return self.engine

    @property
    def token(self) -> str | None:
        secret = self.settings.common.broker_token
        return secret.reveal() if secret is not None else None

    def audit_admin(self, record: dict[str, Any]) -> None:
        """Admin changes always go to system.bus.audit (not sampled)."""
        self.system.offer(AUDIT_TOPIC, record)

    def heartbeat_stats(self) -> HeartbeatStats:
        engine = self.engine
        return self.kit.heartbeat_stats(
            connected=self.kit.dependency.connected,
            queue=engine.queued_publishes if engine is not None else 0,
            inflight=sum(g.inflight for g in engine.groups()) if engine is not None else 0,
        )

    async def _heartbeats(self) -> None:
        """The broker's own heartbeat goes straight into its log."""
        interval = self.settings.common.heartbeat_ms / 1000
        while True:
            await asyncio.sleep(interval)
            record = heartbeat_record("broker", self.heartbeat_stats(), self.clock.now_ms())
            self.system.offer(HEARTBEAT_TOPIC, record, key=heartbeat_key("broker"))

    async def close(self) -> None:
        self.kit.readiness.fail("drain", "shutting down")
        self.kit.pause_watchdog()
        closing = [asyncio.ensure_future(c.ws.close()) for c in list(self.connections.values())]
        if closing:
            # All at once and bounded: a client that never answers the close
            # handshake must not hold the drain for the WebSocket timeout.
            _, late = await asyncio.wait(closing, timeout=CLOSE_CONNECTIONS_S)
            for unanswered in late:
                unanswered.cancel()
            await asyncio.gather(*closing, return_exceptions=True)
        await self.kit.tasks.cancel()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await self.ownership.release_all()
            await self.engine.close()
        await self.controller.resign()
        with contextlib.suppress(Exception):
            await self.presence.leave()
        await self.store.close()


RUNTIME_KEY: Final = web.AppKey("runtime", BrokerRuntime)


class _WriteTiming(EngineHooks):
    """Feeds the heartbeat's ``avg_job_ms``: the broker's job is the group-committed write."""

    def __init__(self, timer: JobTimer) -> None:
        self._timer = timer

    def append_batch(self, size: int, seconds: float) -> None:
        self._timer.observe(seconds * 1000)


class _LazyCollector:
    """Registers engine gauges before the engine exists (starting up)."""

    def __init__(self, runtime: BrokerRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        engine = self._runtime.engine
        if engine is None:
            return iter(())
        return EngineStateCollector(
            engine, self._runtime.connections, self._runtime.offline_lag, self._runtime.ownership
        ).collect()


async def websocket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME_KEY]
    engine = runtime.engine
    if engine is None:
        return error_response(503, "starting", STARTING)
    if len(runtime.connections) >= runtime.settings.max_connections:
        return error_response(503, "too_many_connections", "connection limit reached")
    s = runtime.settings
    ws = web.WebSocketResponse(
        max_msg_size=max(s.max_frame_bytes * 2, MAX_FRAME_BYTES), decode_text=False, heartbeat=30
    )
    await ws.prepare(request)
    conn = BrokerConnection(
        ws,
        engine,
        token=runtime.token,
        max_frame_bytes=s.max_frame_bytes,
        send_buffer_bytes=s.send_buffer_bytes,
        max_pending_publishes=s.publish_queue_max,
        on_error=lambda code: runtime.metrics.frame_errors.labels(code).inc(),
        store_health=runtime.store_health,
        max_inflight_cap=s.max_inflight_cap,
        send_stall_s=s.send_stall_ms / 1000,
        abort=aborter(request),
        coordinator=runtime.coordinator,
        cluster=runtime.cluster,
    )
    runtime.connections[conn.consumer_id] = conn
    try:
        await conn.serve()
    finally:
        runtime.connections.pop(conn.consumer_id, None)
    return ws


def create_app(settings: BrokerSettings, store: Store | None = None) -> web.Application:
    runtime = BrokerRuntime(settings, store)
    # Who may call the admin API is decided once, by `access` (routes get no token).
    guard = access_control(Access(settings.common.broker_token, settings.jwt))
    audit = with_caller(runtime.audit_admin)
    app = service_app(
        runtime,
        RUNTIME_KEY,
        # A starting broker has no work loop yet; it is alive while it waits.
        health=health_routes(runtime.kit, standby=lambda: runtime.engine is None),
        client_max_size=settings.max_frame_bytes,
        middlewares=[json_errors, guard],
    )
    app.add_routes(
        [
            web.get("/", websocket),
            web.get("/ws", websocket),
            *AdminApi(runtime.require_engine, lambda: runtime.coordinator, audit).routes(),
            *runtime.schemas.routes(),
        ]
    )
    Console(
        runtime.require_engine,
        runtime.metrics,
        heartbeat_ms=settings.common.heartbeat_ms,
        broker_id=settings.broker_id,
        audit=audit,
    ).install(app)
    return app


SERVICE_SPEC: Final = ServiceSpec(BrokerSettings, create_app)
