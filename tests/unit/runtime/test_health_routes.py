"""The health routes every service serves, byte for byte what the services
answered before they shared them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from promethean.runtime.health_routes import health_routes
from promethean.runtime.kit import ServiceKit, service_kit
from promethean.settings import CommonSettings


def kit() -> ServiceKit:
    return service_kit(
        CommonSettings(service="compactor", liveness_max_stall_ms=1_000), depends_on="store"
    )


@asynccontextmanager
async def client_for(
    routes: list[web.RouteDef],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def served() -> AsyncIterator[tuple[ServiceKit, TestClient[web.Request, web.Application]]]:
    service = kit()
    async with client_for(health_routes(service)) as client:
        yield service, client


async def test_ready_lists_the_failing_conditions(
    served: tuple[ServiceKit, TestClient[web.Request, web.Application]],
) -> None:
    service, client = served
    response = await client.get("/healthz/ready")
    assert (response.status, await response.read()) == (200, b'{"ready":true,"reasons":{}}')
    service.readiness.fail("store", "store unreachable")
    response = await client.get("/healthz/ready")
    assert response.status == 503
    assert response.content_type == "application/json"
    assert await response.read() == b'{"ready":false,"reasons":{"store":"store unreachable"}}'


async def test_live_reports_the_stall(
    served: tuple[ServiceKit, TestClient[web.Request, web.Application]],
) -> None:
    service, client = served
    response = await client.get("/healthz/live")
    assert response.status == 200
    assert re.fullmatch(rb'\{"live":true,"stalled_ms":\d+\}', await response.read())
    service.progress._last -= 5  # five seconds without a tick
    response = await client.get("/healthz/live")
    assert response.status == 503
    assert re.fullmatch(rb'\{"live":false,"stalled_ms":\d{4,}\}', await response.read())


async def test_a_standby_is_live_without_progress() -> None:
    service = kit()
    service.progress._last -= 5
    standing_by = True
    async with client_for(health_routes(service, standby=lambda: standing_by)) as client:
        response = await client.get("/healthz/live")
        assert response.status == 200
        assert re.fullmatch(rb'\{"live":true,"stalled_ms":\d{4,}\}', await response.read())
        standing_by = False
        assert (await client.get("/healthz/live")).status == 503


async def test_metrics_serve_the_kits_registry(
    served: tuple[ServiceKit, TestClient[web.Request, web.Application]],
) -> None:
    service, client = served
    Counter("promethean_probe", "a probe", registry=service.registry).inc()
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert "promethean_probe_total 1.0" in await response.text()
