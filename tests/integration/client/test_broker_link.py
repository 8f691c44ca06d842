"""The broker link against a real broker process on loopback: a SIGKILLed
broker turns the link's readiness off and calls ``lost``; the broker back on
the same port and store turns it on again and calls ``connected``; a refused
token is raised or retried as the link was told."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promethean.backoff import Backoff
from promethean.client import ClientConfig
from promethean.client.port import BusClient
from promethean.errors import PrometheanError
from promethean.runtime.broker_link import (
    BROKER,
    BrokerLink,
    LinkHealth,
    LinkState,
    Refusal,
)
from promethean.runtime.health import Dependency, Readiness

FAST = ClientConfig(reconnect_base_s=0.05, reconnect_max_s=0.5, connect_timeout_s=2.0)
WAIT_S = 30.0
"""Generous: a broker start on a loaded machine takes seconds."""


async def test_the_link_follows_a_broker_that_dies_and_returns(
    start_broker: Any, names: Any
) -> None:
    broker = start_broker()
    health = LinkHealth(Dependency(BROKER), Readiness())
    link = BrokerLink(broker.url, FAST, health=health, environ={})
    connected: asyncio.Queue[BusClient] = asyncio.Queue()
    lost = asyncio.Event()
    link.on_connected(connected.put_nowait)
    link.on_lost(lost.set)
    link.start()
    try:
        first = await asyncio.wait_for(connected.get(), WAIT_S)
        assert health.readiness.ready
        broker.kill()
        await asyncio.wait_for(lost.wait(), WAIT_S)
        assert link.state is LinkState.LOST
        assert BROKER in health.readiness.reasons
        assert not health.dependency.connected
        await broker.start_async()
        again = await asyncio.wait_for(connected.get(), WAIT_S)
        assert again is first, "the client reconnects itself; the link follows it"
        assert health.readiness.ready
        published = await link.publish(names.topic(), {"after": "restart"})
        assert published.offset >= 0
    finally:
        await link.close()


async def test_a_refused_token_is_raised_or_retried(start_broker: Any) -> None:
    broker = start_broker(PROMETHEAN_BROKER_TOKEN="right-token")
    wrong = ClientConfig(token="wrong-token", connect_timeout_s=2.0)
    raising = BrokerLink(broker.url, wrong, environ={})
    with pytest.raises(PrometheanError, match="AUTH refused"):
        await asyncio.wait_for(raising.connect(), WAIT_S)
    retrying = BrokerLink(
        broker.url,
        wrong,
        refusal=Refusal.RETRY,
        backoff=Backoff(base_s=0.01, max_s=0.05),
        environ={},
    )
    connecting = asyncio.create_task(retrying.connect())
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(connecting), 0.5)
        assert retrying.state is LinkState.CONNECTING
    finally:
        await retrying.close()
    with pytest.raises(PrometheanError, match="closed"):
        await asyncio.wait_for(connecting, WAIT_S)
