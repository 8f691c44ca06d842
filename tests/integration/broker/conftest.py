"""Fixtures for tests against a real broker process on loopback.

``shared_broker`` is one broker per module for tests that only need the
default (fast) settings; each test isolates itself with fresh topic and
group names (``names``). Tests that restart, kill or reconfigure a broker
start their own with ``broker_process``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import WireClient

Connect = Callable[..., Awaitable[WireClient]]


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    factory = BrokerFactory(tmp_path_factory.mktemp("broker"))
    try:
        yield factory()
    finally:
        factory.kill_all()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(url, token=...)``: a `WireClient` closed after the test."""
    clients: list[WireClient] = []

    async def open_client(url: str, *, token: str | None = None) -> WireClient:
        client = await WireClient.connect(url, token=token)
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        for client in clients:
            await client.close()


class Names:
    """Fresh, valid topic and group names for one test."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:8]
        self._count = itertools.count()

    def topic(self, label: str = "t") -> str:
        return f"{label}.{self._prefix}.{next(self._count)}"

    def group(self, label: str = "g") -> str:
        return f"{label}-{self._prefix}-{next(self._count)}"


@pytest.fixture
def names() -> Names:
    return Names()
