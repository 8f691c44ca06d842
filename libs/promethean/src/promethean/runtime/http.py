"""The routes every service serves: ``/metrics``, ``/healthz/live``,
``/healthz/ready``. Bodies are JSON; failing checks answer 503."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from promethean.runtime.health import Progress, Readiness

_json = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_json.encode(body), status=status, content_type="application/json")


def error_response(status: int, code: str, msg: str, **extra: Any) -> web.Response:
    return json_response({"error": {"code": code, "msg": msg, **extra}}, status)


def service_routes(
    registry: CollectorRegistry, progress: Progress, readiness: Readiness
) -> list[web.RouteDef]:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def live(request: web.Request) -> web.Response:
        body = {"live": progress.live, "stalled_ms": progress.stalled_ms}
        return json_response(body, 200 if progress.live else 503)

    async def ready(request: web.Request) -> web.Response:
        body = {"ready": readiness.ready, "reasons": readiness.reasons}
        return json_response(body, 200 if readiness.ready else 503)

    return [
        web.get("/metrics", metrics),
        web.get("/healthz/live", live),
        web.get("/healthz/ready", ready),
    ]
