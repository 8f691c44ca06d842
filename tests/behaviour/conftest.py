"""The behaviour suite runs every test twice: against the in-memory mock
broker (with sockets forbidden) and against a real broker process on
loopback, through `BusClient` only.

``@pytest.mark.bus_settings(ack_timeout_ms=..., ...)`` changes the broker
settings of one test (a separate real broker process per distinct set).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from promethean.testing import SocketGuard
from tests.behaviour.broker_process import BrokerPool
from tests.behaviour.harness import Harness, MockHarness, RealHarness
from tests.behaviour.settings import BusSettings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bus_settings(**fields): BusSettings for one behaviour test (both brokers)"
    )


@pytest.fixture(scope="session")
def broker_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerPool]:
    pool = BrokerPool(tmp_path_factory.mktemp("brokers"))
    try:
        yield pool
    finally:
        pool.close()


def _settings(request: pytest.FixtureRequest) -> BusSettings:
    marker = request.node.get_closest_marker("bus_settings")
    fields: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    return BusSettings(**fields)


@pytest.fixture(params=["mock", "real"])
async def bus_harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    settings = _settings(request)
    if request.param == "mock":
        with SocketGuard() as guard:
            mock = MockHarness(settings)
            try:
                yield mock
            finally:
                await mock.close()
        assert guard.attempts == [], f"the mock broker opened sockets: {guard.attempts}"
        return
    pool: BrokerPool = request.getfixturevalue("broker_pool")
    real = RealHarness(settings, pool.url(settings))
    try:
        yield real
    finally:
        await real.close()
