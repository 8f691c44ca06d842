"""The one client interface: the WebSocket client and the in-memory mock
broker both implement `BusClient`, so code under test never knows which."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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


PartitionHook = Callable[[set[int]], Awaitable[None]]
"""``on_assigned`` / ``on_revoked``: called with the partitions that came or go."""


@runtime_checkable
class PartitionedHandle(Protocol):
    topic: str
    group: str
    assigned: frozenset[int]
    """The partitions this member owns now."""
    generation: int
    """The group generation of the member's latest assignment."""

    async def stop(self) -> None:
        """Finish running handlers (they ack), commit, run ``on_revoked``,
        and LEAVE the group; its partitions move to the other members."""
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

    async def subscribe_partitioned(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        instance_id: str | None = None,
        on_assigned: PartitionHook | None = None,
        on_revoked: PartitionHook | None = None,
    ) -> PartitionedHandle:
        """Join the partitioned ``group``: the coordinator gives this member
        some partitions of ``topic`` (balanced, sticky, moved cooperatively).
        ``handler`` runs one message at a time per partition, in offset order,
        acked on return and nacked on exception. Before a partition moves
        away its running handler finishes, acks are committed and
        ``on_revoked`` runs; ``on_assigned`` runs before the first message of
        a gained partition. ``instance_id`` makes the membership static."""
        ...

    async def unsubscribe(self, topic: str, group: str) -> None: ...

    async def close(self) -> None: ...
