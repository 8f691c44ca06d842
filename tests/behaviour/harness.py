"""What a behaviour test needs beyond `BusClient`, for each implementation.

Tests talk to the bus through `BusClient` only. Time and waiting differ:
against the mock, ``advance`` moves the fake clock and waiting means
draining (nothing is left to wait for afterwards); against the real broker,
``advance`` sleeps real time and waiting means awaiting the recorder.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final, Protocol

from promethean.client import BusClient, Message, SubscriptionHandle, WebSocketBusClient
from promethean.testing import InMemoryBroker, RecordingSubscriber
from tests.behaviour.settings import BusSettings

REAL_WAIT_S: Final = 10.0
REAL_QUIET_S: Final = 0.3
"""How long the real broker gets to show that nothing more arrives."""
MOCK_NEXT_S: Final = 0.5


class Harness(Protocol):
    impl: str
    settings: BusSettings

    async def client(self) -> BusClient: ...

    async def advance(self, ms: int) -> None:
        """Let ``ms`` of bus time pass."""

    async def received(self, recorder: RecordingSubscriber, count: int) -> list[Message]:
        """Once ``recorder`` holds at least ``count`` messages, all of them."""

    async def next(self, handle: SubscriptionHandle) -> Message:
        """The next message of an iterated subscription."""

    async def quiet(self) -> None:
        """Let whatever is under way finish, so a test can check nothing more came."""

    async def close(self) -> None: ...


def unique(name: str) -> str:
    """Topic and group names never collide between tests sharing a broker."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


class MockHarness:
    impl = "mock"

    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self.broker = InMemoryBroker(settings.mock_config())
        self._handed_out = 0

    async def client(self) -> BusClient:
        """The broker itself first (it is a client), then further connections."""
        await self.broker.ensure_open()
        self._handed_out += 1
        return self.broker if self._handed_out == 1 else self.broker.new_client()

    async def advance(self, ms: int) -> None:
        await self.broker.advance(ms)

    async def received(self, recorder: RecordingSubscriber, count: int) -> list[Message]:
        await self.broker.drain()
        assert len(recorder.messages) >= count, (
            f"expected at least {count} messages, got {recorder.messages!r}"
        )
        return list(recorder.messages)

    async def next(self, handle: SubscriptionHandle) -> Message:
        await self.broker.drain()
        try:
            return await asyncio.wait_for(anext(handle), MOCK_NEXT_S)
        except TimeoutError:
            raise AssertionError("no message is waiting for the subscription") from None

    async def quiet(self) -> None:
        await self.broker.drain()

    async def close(self) -> None:
        await self.broker.close()
        self.broker.check()


class RealHarness:
    impl = "real"

    def __init__(self, settings: BusSettings, url: str) -> None:
        self.settings = settings
        self.url = url
        self._clients: list[WebSocketBusClient] = []

    async def client(self) -> BusClient:
        client = WebSocketBusClient(self.url)
        await client.connect()
        self._clients.append(client)
        return client

    async def advance(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)

    async def received(self, recorder: RecordingSubscriber, count: int) -> list[Message]:
        return await recorder.wait_for(count, REAL_WAIT_S)

    async def next(self, handle: SubscriptionHandle) -> Message:
        try:
            return await asyncio.wait_for(anext(handle), REAL_WAIT_S)
        except TimeoutError:
            raise AssertionError(f"no message within {REAL_WAIT_S}s") from None

    async def quiet(self) -> None:
        await asyncio.sleep(REAL_QUIET_S)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
