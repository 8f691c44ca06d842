"""The one client interface: the WebSocket client and the in-memory mock
broker both implement `BusClient`, so code under test never knows which."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from promethean.client.types import Handler, Message, Published, SubscribeOptions


@runtime_checkable
class SubscriptionHandle(Protocol):
    topic: str
    group: str

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __anext__(self) -> Message: ...

    async def stop(self) -> None:
        """Unsubscribe; in-flight messages go back to the group."""
        ...


@runtime_checkable
class BusClient(Protocol):
    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        id: str | None = None,
    ) -> Published:
        """Returns once the event is durable; retried with the same id across
        reconnects, so a publish is stored once."""
        ...

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler | None = None,
        *,
        options: SubscribeOptions | None = None,
        manual_ack: bool = False,
        concurrency: int = 1,
    ) -> SubscriptionHandle:
        """With ``handler``: run it per message, ack on return, nack on
        exception (unless ``manual_ack``). Without: iterate the handle and
        ack each message yourself."""
        ...

    async def unsubscribe(self, topic: str, group: str) -> None: ...

    async def close(self) -> None: ...
