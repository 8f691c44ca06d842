"""pytest plugin (entry point ``promethean``): a fresh ``bus`` per test.

``bus`` is an `InMemoryBroker` built from the ``bus_config`` fixture (override
it in a conftest, or parametrize it indirectly, to change the knobs). It is
closed after the test, and a subscriber error no call raised yet (an
overflow with policy ``raise``) fails the test at teardown. Nothing is
shared between tests, so they may run in parallel.

The fixture is asynchronous: it needs pytest-asyncio (any mode).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest

from promethean.client.mock.broker import InMemoryBroker
from promethean.client.mock.config import MockConfig
from promethean.testing.sockets import SocketGuard

F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(func: F) -> F:
    """pytest-asyncio's fixture decorator when installed; otherwise pytest's,
    and pytest itself reports that an async plugin is missing."""
    if importlib.util.find_spec("pytest_asyncio") is not None:
        import pytest_asyncio

        return cast(F, pytest_asyncio.fixture(func))
    return cast(F, pytest.fixture(func))


@pytest.fixture
def bus_config() -> MockConfig:
    """The configuration of the ``bus`` fixture; override to change it."""
    return MockConfig()


@_async_fixture
async def bus(bus_config: MockConfig) -> AsyncIterator[InMemoryBroker]:
    broker = InMemoryBroker(bus_config)
    await broker.ensure_open()
    try:
        yield broker
    finally:
        await broker.close()
    broker.check()


@_async_fixture
async def no_sockets() -> AsyncIterator[SocketGuard]:
    """Fail the test if it opens any socket. Asynchronous on purpose: the
    event loop (which owns a socket pair) exists before the guard starts."""
    with SocketGuard() as guard:
        yield guard
    if guard.attempts:
        pytest.fail(f"the test opened {len(guard.attempts)} socket(s): {guard.attempts}")
