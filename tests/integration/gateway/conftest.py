from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.gateway.support import GatewayProcess


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BrokerProcess, GatewayProcess]]:
    """One broker and one gateway shared by the tests of a module; a module
    may set ``GATEWAY_ENV`` for its gateway's extra settings."""
    env = {"PROMETHEAN_GATEWAY_MAX_INFLIGHT": "64", **getattr(request.module, "GATEWAY_ENV", {})}
    log_dir = tmp_path_factory.mktemp("gateway")
    brokers = BrokerFactory(log_dir)
    gateway: GatewayProcess | None = None
    try:
        broker = brokers()
        gateway = GatewayProcess(broker, env, log_dir)
        gateway.start()
        yield broker, gateway
    finally:
        if gateway is not None:
            gateway.kill()
        brokers.kill_all()


@pytest.fixture
def gateway(stack: tuple[BrokerProcess, GatewayProcess]) -> GatewayProcess:
    return stack[1]


@pytest.fixture
def broker(stack: tuple[BrokerProcess, GatewayProcess]) -> BrokerProcess:
    return stack[0]
