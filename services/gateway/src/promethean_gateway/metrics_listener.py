"""``/metrics`` on its own port (``PROMETHEAN_METRICS_PORT``), so the
public port that an Ingress or load balancer exposes never serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CollectorRegistry

from promethean.runtime.health_routes import METRICS_PATH, metrics_route


def public_routes(routes: list[web.RouteDef], metrics_port: int | None) -> list[web.RouteDef]:
    """The routes of the public port: all of them, less ``/metrics`` when it
    has a port of its own."""
    if metrics_port is None:
        return routes
    return [r for r in routes if r.path != METRICS_PATH]


@asynccontextmanager
async def metrics_listener(
    registry: CollectorRegistry, host: str, port: int | None
) -> AsyncIterator[None]:
    """Serve ``registry`` at ``/metrics`` on ``host:port`` while the block
    runs; nothing when ``port`` is None."""
    if port is None:
        yield
        return
    app = web.Application()
    app.add_routes([metrics_route(registry)])
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        yield
    finally:
        await runner.cleanup()
