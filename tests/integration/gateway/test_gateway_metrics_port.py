"""PROMETHEAN_METRICS_PORT: the gateway serves /metrics on that port only,
never on its public WS_PORT (which an Ingress or load balancer exposes)."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter

from promethean.errors import SettingsError
from promethean.runtime.health_routes import health_routes
from promethean.runtime.kit import service_kit
from promethean.settings import CommonSettings
from promethean_gateway.metrics_listener import metrics_listener, public_routes
from promethean_gateway.settings import GatewaySettings
from tests.fixtures.ferretdb import free_port

BASE = {"JWT_SECRET": "s3cret"}


def test_metrics_port_is_off_unless_set() -> None:
    assert GatewaySettings.from_env(BASE).metrics_port is None
    assert GatewaySettings.from_env({**BASE, "PROMETHEAN_METRICS_PORT": "0"}).metrics_port is None
    settings = GatewaySettings.from_env({**BASE, "PROMETHEAN_METRICS_PORT": "9102"})
    assert settings.metrics_port == 9102


@pytest.mark.parametrize(
    ("value", "reason"),
    [("8090", "other than WS_PORT"), ("70000", "port"), ("many", "port")],
)
def test_bad_metrics_port_names_the_variable(value: str, reason: str) -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_METRICS_PORT") as caught:
        GatewaySettings.from_env({**BASE, "WS_PORT": "8090", "PROMETHEAN_METRICS_PORT": value})
    assert reason in str(caught.value)


def routes(metrics_port: int | None) -> set[str]:
    kit = service_kit(CommonSettings(service="gateway"), depends_on="broker")
    every = health_routes(kit)
    return {route.path for route in public_routes(every, metrics_port)}


def test_public_routes_lose_metrics_only_when_it_has_its_own_port() -> None:
    assert routes(None) == {"/metrics", "/healthz/live", "/healthz/ready"}
    assert routes(9102) == {"/healthz/live", "/healthz/ready"}


async def test_metrics_listener_serves_the_registry_and_stops() -> None:
    registry = CollectorRegistry()
    Counter("promethean_gateway_probe", "a probe", registry=registry).inc()
    port = free_port()
    async with aiohttp.ClientSession() as session:
        async with metrics_listener(registry, "127.0.0.1", port):
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                assert "promethean_gateway_probe_total 1.0" in await response.text()
            async with session.get(f"http://127.0.0.1:{port}/healthz/ready") as response:
                assert response.status == 404
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"http://127.0.0.1:{port}/metrics"):
                pass
