"""What a handler run by ``promethean-worker`` looks like.

A `HandlerSpec` is what ``PROMETHEAN_WORKER_HANDLERS`` entries and the
``promethean.handlers`` entry points name: the topics it consumes by default
and a ``start`` coroutine that builds a `PartitionHandler` from the
`HandlerContext` the worker gives it (the bus to publish on, a clock, the
environment for the handler's own settings, and the store, opened on first
use). The worker calls ``handle`` once per message, one at a time per
partition in offset order, and tells the handler which partitions it gained
and lost so it can warm up or drop per-partition state.

The contract lives in the library so that the built-in projectors, which
the worker runs, and handlers in any package can implement it without
importing the worker service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from promethean.client.port import BusClient
from promethean.client.types import Handler, Message
from promethean.clock import Clock
from promethean.store.port import Store


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """Everything the worker lends a handler."""

    bus: BusClient
    clock: Clock
    environ: Mapping[str, str]
    """The worker's environment: handlers read their own settings from it."""
    instance_id: str
    heartbeat_ms: int
    liveness_max_stall_ms: int
    open_store: Callable[[], Awaitable[Store]]
    """The worker's store, opened on first call and shared by every handler."""


class PartitionHandler(Protocol):
    async def handle(self, message: Message) -> None:
        """Process one message. Returning acks it; raising nacks it."""
        ...

    async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None:
        """Partitions of ``topic`` this instance now owns (warm up state)."""
        ...

    async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None:
        """Partitions of ``topic`` this instance gives up (flush, drop state)."""
        ...

    async def close(self) -> None:
        """Stop background work; called once, after the last message."""
        ...


StartHandler = Callable[[HandlerContext, tuple[str, ...]], Awaitable[PartitionHandler]]


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A named handler: default topics and how to start it.

    ``topics`` may be empty: the worker then takes them from the handler's
    entry (``module:attr@topic|topic``) or from ``PROMETHEAN_WORKER_TOPICS``.
    ``start`` receives the topics finally chosen.
    """

    name: str
    start: StartHandler
    topics: tuple[str, ...] = field(default=())


class FunctionHandler:
    """A `PartitionHandler` around a plain ``async def handle(message)``."""

    def __init__(self, function: Handler) -> None:
        self._function = function

    async def handle(self, message: Message) -> None:
        await self._function(message)

    async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None:
        return None

    async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None:
        return None

    async def close(self) -> None:
        return None


def function_spec(name: str, function: Handler, topics: tuple[str, ...] = ()) -> HandlerSpec:
    """A `HandlerSpec` for a stateless message function."""

    async def start(context: HandlerContext, chosen: tuple[str, ...]) -> PartitionHandler:
        return FunctionHandler(function)

    return HandlerSpec(name=name, start=start, topics=topics)


def handles(*topics: str) -> Callable[[Handler], HandlerSpec]:
    """Decorator: ``@handles("orders.placed")`` over ``async def on_order(message)``
    makes it a `HandlerSpec` named after the function."""

    def wrap(function: Handler) -> HandlerSpec:
        name = getattr(function, "__qualname__", None) or repr(function)
        return function_spec(name, function, tuple(topics))

    return wrap
