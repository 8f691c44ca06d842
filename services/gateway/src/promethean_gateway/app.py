"""The gateway application: ``create_app(settings)`` opens the broker relay
and the key cache, serves WebSocket clients at ``/`` and ``/ws``, HTTP
publishes at ``/publish/{topic}`` and the health routes, and closes them in
reverse on shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry

from promethean.frames.codec import encode, gw_error_frame
from promethean.frames.codes import ErrorCode
from promethean.runtime.broker_link import LinkHealth
from promethean.runtime.health import Dependency, Progress, Readiness
from promethean.runtime.heartbeat import HeartbeatPublisher, HeartbeatStats
from promethean.runtime.http import service_routes
from promethean.runtime.service import Lifecycle
from promethean.runtime.tracing import configure_tracing, configure_tracing_from_env, tracer
from promethean.runtime.watchdog import Watchdog
from promethean.runtime.ws_release import release_websocket
from promethean.schemas.documents.http import gateway_openapi_route
from promethean_gateway.authn import Authenticator
from promethean_gateway.connection import CLOSE_TRY_AGAIN, GatewayConnection
from promethean_gateway.errors import RefusalError
from promethean_gateway.http_publish import HttpPublish
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.metrics_listener import public_routes
from promethean_gateway.relay import BrokerRelay
from promethean_gateway.settings import GatewaySettings

log = logging.getLogger("promethean.gateway")

WATCH_TICK_S: Final = 0.5
OVERLOAD_FRACTION: Final = 0.9
"""Not ready once this share of the connection or publish limit is used."""
WS_HEARTBEAT_S: Final = 30.0


class GatewayRuntime:
    """Everything the gateway holds while it runs."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        self.metrics = GatewayMetrics(self.registry)
        self.progress = Progress(settings.common.liveness_max_stall_ms)
        self.readiness = Readiness()
        self.broker = Dependency("broker")
        self.relay = BrokerRelay(settings, self.metrics, LinkHealth(self.broker, self.readiness))
        self.authenticator = Authenticator(settings, self.metrics)
        # Without an exporter the gateway still starts real spans: the trace
        # context it puts in event headers lets consumers join one trace.
        self.tracer_provider = configure_tracing_from_env(
            "gateway", os.environ
        ) or configure_tracing("gateway", None)
        self.tracer = tracer(self.tracer_provider)
        self.http_publish = HttpPublish(
            self.authenticator, self.relay, self.metrics, self.tracer, settings.max_frame_bytes
        )
        self.connections: set[GatewayConnection] = set()
        self.lifecycle = Lifecycle(self.readiness)
        self._watch: asyncio.Task[None] | None = None
        self.watchdog = Watchdog(
            self.progress, self.broker, disconnect_kill_ms=settings.common.disconnect_kill_ms
        )
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.relay.start()
        self._watch = asyncio.create_task(self._watch_loop(), name="gateway-watch")
        heartbeat = HeartbeatPublisher(
            _RelayValues(self.relay),
            "gateway",
            self.settings.common.heartbeat_ms,
            self.heartbeat_stats,
            lambda: time.time_ns() // 1_000_000,
        )
        self._background = [asyncio.create_task(heartbeat.run(), name="gateway-heartbeat")]
        self.watchdog.start_thread()

    def heartbeat_stats(self) -> HeartbeatStats:
        return HeartbeatStats(
            connected=self.relay.connected,
            queue=self.relay.pending,
            inflight=sum(conn.inflight for conn in self.connections),
            last_progress_ts=self.progress.last_wall_ms,
            avg_job_ms=self.relay.publish_timer.avg_ms,
        )

    async def _watch_loop(self) -> None:
        while True:
            self.progress.tick()
            if self.overloaded:
                self.readiness.fail("load", "at the connection or publish limit")
            else:
                self.readiness.clear("load")
            await asyncio.sleep(WATCH_TICK_S)

    @property
    def overloaded(self) -> bool:
        s = self.settings
        return (
            len(self.connections) >= s.max_connections * OVERLOAD_FRACTION
            or self.relay.pending >= s.max_pending_publishes * OVERLOAD_FRACTION
        )

    def stop(self, exit_code: int = 0) -> None:
        self.lifecycle.stop(exit_code)

    async def close(self) -> None:
        self.readiness.fail("drain", "shutting down")
        self.watchdog.paused = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for conn in list(self.connections):
            await conn.ws.close()
        await self.relay.close()
        await self.authenticator.close()
        self.tracer_provider.shutdown()


class _RelayValues:
    """Publishes JSON values (heartbeats) through the relay, which takes raw JSON."""

    def __init__(self, relay: BrokerRelay) -> None:
        self._relay = relay

    async def publish(self, topic: str, payload: Any, *, key: str | None = None) -> object:
        raw = msgspec.Raw(msgspec.json.encode(payload))
        return await self._relay.publish(topic, raw, key=key, headers=None, id=None)


RUNTIME_KEY: web.AppKey[GatewayRuntime] = web.AppKey("runtime")


def _aborter(request: web.Request) -> Callable[[], None]:
    def abort() -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    return abort


async def websocket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME_KEY]
    s = runtime.settings
    # Frames up to 4x the limit are read and answered with frame_too_large;
    # anything larger is cut off by the WebSocket layer (close code 1009).
    ws = web.WebSocketResponse(
        max_msg_size=s.max_frame_bytes * 4, heartbeat=WS_HEARTBEAT_S, decode_text=False
    )
    await ws.prepare(request)
    if len(runtime.connections) >= s.max_connections:
        runtime.metrics.connections_refused.inc()
        runtime.metrics.errors.labels(ErrorCode.TOO_MANY_CONNECTIONS.value).inc()
        refusal = RefusalError(ErrorCode.TOO_MANY_CONNECTIONS, "connection limit reached", 1000)
        await ws.send_bytes(encode(gw_error_frame(refusal)))
        await ws.close(code=CLOSE_TRY_AGAIN, message=b"too_many_connections")
        release_websocket(ws)
        return ws
    conn = GatewayConnection(
        ws,
        settings=s,
        authenticator=runtime.authenticator,
        relay=runtime.relay,
        metrics=runtime.metrics,
        tracer=runtime.tracer,
        abort=_aborter(request),
    )
    runtime.connections.add(conn)
    runtime.metrics.connections.inc()
    try:
        await conn.serve()
    finally:
        runtime.connections.discard(conn)
        runtime.metrics.connections.dec()
    return ws


async def publish(request: web.Request) -> web.Response:
    runtime: GatewayRuntime = request.app[RUNTIME_KEY]
    return await runtime.http_publish.handle(request)


def create_app(settings: GatewaySettings) -> web.Application:
    runtime = GatewayRuntime(settings)
    app = web.Application(client_max_size=settings.max_frame_bytes)
    app[RUNTIME_KEY] = runtime

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifespan)
    app.add_routes(
        [
            web.get("/", websocket),
            web.get("/ws", websocket),
            web.post("/publish/{topic}", publish),
            gateway_openapi_route(),
            *public_routes(
                service_routes(runtime.registry, runtime.progress, runtime.readiness),
                settings.metrics_port,
            ),
        ]
    )
    return app
