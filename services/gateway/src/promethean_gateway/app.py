"""The gateway application: ``create_app(settings)`` opens the broker relay
and the key cache, serves WebSocket clients at ``/`` and ``/ws``, HTTP
publishes at ``/publish/{topic}`` and the health routes, and closes them in
reverse on shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from promethean.frames.codec import encode, gw_error_frame
from promethean.frames.codes import ErrorCode
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.broker_link import LinkHealth
from promethean.runtime.health_routes import health_routes
from promethean.runtime.heartbeat import HeartbeatStats
from promethean.runtime.http import aborter
from promethean.runtime.kit import service_kit
from promethean.runtime.tracing import configure_tracing, tracer
from promethean.runtime.ws_release import release_websocket
from promethean.schemas.documents.http import gateway_openapi_route
from promethean_gateway.authn import Authenticator
from promethean_gateway.connection import CLOSE_TRY_AGAIN, GatewayConnection
from promethean_gateway.errors import RefusalError
from promethean_gateway.http_publish import HttpPublish
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.metrics_listener import metrics_listener, public_routes
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
        self.kit = service_kit(
            settings.common, depends_on="broker", scheme="ws", detail=f"broker {settings.bus_url}"
        )
        self.metrics = GatewayMetrics(self.kit.registry)
        self.relay = BrokerRelay(
            settings, self.metrics, LinkHealth(self.kit.dependency, self.kit.readiness)
        )
        self.authenticator = Authenticator(settings, self.metrics)
        # Without an exporter the gateway still starts real spans: the trace
        # context it puts in event headers lets consumers join one trace.
        self.own_tracer_provider: TracerProvider | None = None
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = self.own_tracer_provider = configure_tracing("gateway", None)
        self.tracer = tracer(provider)
        self.http_publish = HttpPublish(
            self.authenticator, self.relay, self.metrics, self.tracer, settings.max_frame_bytes
        )
        self.kit.readiness.fail("broker", "not connected to the broker yet")
        self.connections: set[GatewayConnection] = set()
        if settings.ws_token is not None:
            log.warning("WS_TOKEN is set: a static dev token grants every topic (PROMETHEAN_DEV=1)")

    async def start(self) -> None:
        self.relay.start()
        self.kit.tasks.spawn(self._watch_loop(), "gateway-watch")
        heartbeat = self.kit.heartbeat(
            _RelayValues(self.relay), self.heartbeat_stats, lambda: time.time_ns() // 1_000_000
        )
        self.kit.tasks.spawn(heartbeat.run(), "gateway-heartbeat")
        self.kit.start_watchdog()

    def heartbeat_stats(self) -> HeartbeatStats:
        return self.kit.heartbeat_stats(
            connected=self.relay.connected,
            queue=self.relay.pending,
            inflight=sum(conn.inflight for conn in self.connections),
            timer=self.relay.publish_timer,
        )

    async def _watch_loop(self) -> None:
        readiness = self.kit.readiness
        while True:
            self.kit.progress.tick()
            if self.overloaded:
                readiness.fail("load", "at the connection or publish limit")
            else:
                readiness.clear("load")
            await asyncio.sleep(WATCH_TICK_S)

    @property
    def overloaded(self) -> bool:
        s = self.settings
        return (
            len(self.connections) >= s.max_connections * OVERLOAD_FRACTION
            or self.relay.pending >= s.max_pending_publishes * OVERLOAD_FRACTION
        )

    async def close(self) -> None:
        self.kit.readiness.fail("drain", "shutting down")
        self.kit.pause_watchdog()
        await self.kit.tasks.cancel()
        for conn in list(self.connections):
            await conn.ws.close()
        await self.relay.close()
        await self.authenticator.close()
        if self.own_tracer_provider is not None:
            self.own_tracer_provider.shutdown()


class _RelayValues:
    """Publishes JSON values (heartbeats) through the relay, which takes raw JSON."""

    def __init__(self, relay: BrokerRelay) -> None:
        self._relay = relay

    async def publish(self, topic: str, payload: Any, *, key: str | None = None) -> object:
        raw = msgspec.Raw(msgspec.json.encode(payload))
        return await self._relay.publish(topic, raw, key=key, headers=None, id=None)


RUNTIME_KEY: Final = web.AppKey("runtime", GatewayRuntime)


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
        abort=aborter(request),
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
    app = service_app(
        runtime,
        RUNTIME_KEY,
        health=public_routes(health_routes(runtime.kit), settings.metrics_port),
        client_max_size=settings.max_frame_bytes,
    )

    async def metrics_port(app: web.Application) -> AsyncIterator[None]:
        async with metrics_listener(
            runtime.kit.registry, settings.common.host, settings.metrics_port
        ):
            yield

    # Before the runtime's lifespan, so /metrics answers until the gateway has closed.
    app.cleanup_ctx.insert(0, metrics_port)
    app.add_routes(
        [
            web.get("/", websocket),
            web.get("/ws", websocket),
            web.post("/publish/{topic}", publish),
            gateway_openapi_route(),
        ]
    )
    return app


SERVICE_SPEC: Final = ServiceSpec(GatewaySettings, create_app)
