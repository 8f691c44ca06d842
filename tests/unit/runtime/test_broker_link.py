"""The broker link: backoff bounds, the first connection retried, health
state and hooks on every change, a dead broker replaced, and a stop that
ends a connection attempt at once. On the mock broker (``BROKER_IMPL=mock``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from promethean.backoff import Backoff
from promethean.client.port import BusClient
from promethean.client.ws import ClientConfig
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.runtime.broker_link import (
    BROKER,
    NOT_CONNECTED,
    BrokerLink,
    Connector,
    LinkHealth,
    LinkState,
    Refusal,
)
from promethean.runtime.health import Dependency, Progress, Readiness
from promethean.testing import InMemoryBroker

MOCK = {"BROKER_IMPL": "mock"}
FAST = Backoff(base_s=0.001, max_s=0.005)
WAIT_S = 5.0


def health() -> LinkHealth:
    return LinkHealth(Dependency(BROKER), Readiness(), Progress(60_000), kill_after_ms=30_000)


def failing_then_mock(failures: int, error: Exception) -> Connector:
    """A connector that fails ``failures`` times, then connects to a mock broker."""
    calls = 0

    async def connect() -> BusClient:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise error
        broker = InMemoryBroker()
        await broker.ensure_open()
        return broker

    return connect


@pytest.fixture
async def links() -> AsyncIterator[list[BrokerLink]]:
    made: list[BrokerLink] = []
    yield made
    for link in made:
        await link.close()


def link_with(
    links: list[BrokerLink],
    state: LinkHealth | None = None,
    *,
    backoff: Backoff = FAST,
    refusal: Refusal = Refusal.RAISE,
    connector: Connector | None = None,
) -> BrokerLink:
    link = BrokerLink(
        "ws://127.0.0.1:1/ws",
        ClientConfig(),
        health=state,
        backoff=backoff,
        refusal=refusal,
        environ=MOCK,
        connector=connector,
    )
    links.append(link)
    return link


# -- backoff -------------------------------------------------------------------


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_backoff_stays_between_the_jittered_floor_and_the_cap(draw: float) -> None:
    backoff = Backoff(base_s=0.1, max_s=5.0, jitter=0.5)
    caps = [backoff.cap_s(attempt) for attempt in range(1, 2000)]
    assert caps[0] == 0.1
    assert caps == sorted(caps)
    assert max(caps) == 5.0
    for attempt, cap in enumerate(caps, start=1):
        delay = backoff.delay_s(attempt, lambda: draw)
        assert cap * 0.5 <= delay <= cap


def test_backoff_without_jitter_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.25, max_s=2.0, jitter=0.0)
    assert [backoff.delay_s(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("base_s", "max_s", "jitter"), [(0, 1, 0.5), (2, 1, 0.5), (0.1, 1, -0.1), (0.1, 1, 1.5)]
)
def test_a_backoff_out_of_range_is_refused(base_s: float, max_s: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base_s=base_s, max_s=max_s, jitter=jitter)


def test_the_default_backoff_is_the_clients_reconnect_policy() -> None:
    link = BrokerLink("ws://x/ws", ClientConfig(reconnect_base_s=0.2, reconnect_max_s=3.0))
    assert (link.backoff.base_s, link.backoff.max_s) == (0.2, 3.0)


# -- connecting ----------------------------------------------------------------


async def test_connect_uses_connect_bus_and_clears_readiness(links: list[BrokerLink]) -> None:
    state = health()
    link = link_with(links, state)
    assert state.readiness.reasons == {BROKER: NOT_CONNECTED}
    with pytest.raises(ConnectionLostError, match=NOT_CONNECTED):
        _ = link.client
    seen: list[BusClient] = []
    link.on_connected(seen.append)
    bus = await link.connect()
    assert isinstance(bus, InMemoryBroker)
    assert seen == [bus]
    assert link.connected
    assert link.state is LinkState.CONNECTED
    assert state.readiness.ready
    assert state.dependency.connected
    assert (await link.publish("t", {"n": 1}, key="k")).offset == 0


class CountingProgress(Progress):
    ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        super().tick()


async def test_connect_retries_an_unreachable_broker(links: list[BrokerLink]) -> None:
    progress = CountingProgress(60_000)
    state = LinkHealth(Dependency(BROKER), Readiness(), progress, kill_after_ms=30_000)
    link = link_with(
        links, state, connector=failing_then_mock(3, ConnectionLostError("cannot reach"))
    )
    bus = await asyncio.wait_for(link.connect(), WAIT_S)
    assert isinstance(bus, InMemoryBroker)
    assert progress.ticks == 3, "waiting for the broker is not a stall"
    assert state.readiness.ready


async def test_a_refusal_raises_unless_told_to_retry(links: list[BrokerLink]) -> None:
    refused = PrometheanError("AUTH refused: bad token", code="unauthorized")
    raising = link_with(links, connector=failing_then_mock(1, refused))
    with pytest.raises(PrometheanError, match="AUTH refused"):
        await raising.connect()
    retrying = link_with(links, connector=failing_then_mock(2, refused), refusal=Refusal.RETRY)
    assert isinstance(await asyncio.wait_for(retrying.connect(), WAIT_S), InMemoryBroker)


# -- following -----------------------------------------------------------------


async def test_a_dead_broker_is_reported_and_replaced(links: list[BrokerLink]) -> None:
    state = health()
    link = link_with(links, state, refusal=Refusal.RETRY)
    connected: asyncio.Queue[BusClient] = asyncio.Queue()
    lost = asyncio.Event()
    link.on_connected(connected.put_nowait)
    link.on_lost(lost.set)
    link.start()
    first = await asyncio.wait_for(connected.get(), WAIT_S)
    await first.close()  # the broker dies
    await asyncio.wait_for(lost.wait(), WAIT_S)
    second = await asyncio.wait_for(connected.get(), WAIT_S)
    assert second is not first
    assert link.client is second
    assert state.readiness.ready
    assert state.dependency.connected


async def test_a_dead_broker_stays_down_under_raise(links: list[BrokerLink]) -> None:
    state = health()
    link = link_with(links, state)
    lost = asyncio.Event()
    link.on_lost(lost.set)
    bus = await link.connect()
    following = asyncio.create_task(link.follow(every_s=0.001))
    await bus.close()
    await asyncio.wait_for(lost.wait(), WAIT_S)
    assert link.state is LinkState.LOST
    assert state.readiness.reasons == {BROKER: NOT_CONNECTED}
    assert not state.dependency.connected
    assert link.client is bus
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)


# -- stopping ------------------------------------------------------------------


async def test_close_ends_an_attempt_that_hangs(links: list[BrokerLink]) -> None:
    started = asyncio.Event()

    async def hangs() -> BusClient:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    link = link_with(links, connector=hangs)
    connecting = asyncio.create_task(link.connect())
    await asyncio.wait_for(started.wait(), WAIT_S)
    await asyncio.wait_for(link.close(), WAIT_S)
    with pytest.raises(ConnectionLostError, match="closed"):
        await asyncio.wait_for(connecting, WAIT_S)
    assert link.state is LinkState.CLOSED


async def test_close_ends_a_long_wait_between_attempts(links: list[BrokerLink]) -> None:
    attempts = asyncio.Event()

    async def unreachable() -> BusClient:
        attempts.set()
        raise ConnectionLostError("cannot reach the broker")

    link = link_with(links, connector=unreachable, backoff=Backoff(base_s=3600, max_s=3600))
    link.start()
    await asyncio.wait_for(attempts.wait(), WAIT_S)
    await asyncio.wait_for(link.close(), WAIT_S)
    with pytest.raises(ConnectionLostError, match="closed"):
        await link.connect()
