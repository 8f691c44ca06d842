"""The routes every service serves: ``/metrics``, ``/healthz/live``,
``/healthz/ready``. Bodies are JSON; failing checks answer 503."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from promethean.runtime.http import json_response
from promethean.runtime.kit import ServiceKit

METRICS_PATH: Final = "/metrics"
LIVE_PATH: Final = "/healthz/live"
READY_PATH: Final = "/healthz/ready"


def metrics_route(registry: CollectorRegistry) -> web.RouteDef:
    """``GET /metrics``: ``registry`` in the Prometheus text format."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return web.get(METRICS_PATH, metrics)


def health_routes(
    kit: ServiceKit, *, standby: Callable[[], bool] | None = None
) -> list[web.RouteDef]:
    """The kit's metrics, liveness and readiness. While ``standby()`` holds
    (a broker waiting for the store lease) the service has no work loop
    whose progress could be judged, and it is live while it waits."""
    progress, readiness = kit.progress, kit.readiness

    async def live(request: web.Request) -> web.Response:
        is_live = progress.live or (standby is not None and standby())
        body = {"live": is_live, "stalled_ms": progress.stalled_ms}
        return json_response(body, 200 if is_live else 503)

    async def ready(request: web.Request) -> web.Response:
        body = {"ready": readiness.ready, "reasons": readiness.reasons}
        return json_response(body, 200 if readiness.ready else 503)

    return [
        metrics_route(kit.registry),
        web.get(LIVE_PATH, live),
        web.get(READY_PATH, ready),
    ]
