"""What a frame handler may use of its broker connection, and how handlers
are keyed by frame type.

Each concern keeps its handlers in its own module (publishing, subscribing,
settling, membership); `dispatch.py` joins their tables into one. A handler
is looked up by the frame's exact type, so adding a frame means adding one
entry, not a branch in a long ``match``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from promethean.bus import BusEngine
from promethean.bus.coordinator import Coordinator
from promethean.errors import PrometheanError
from promethean.frames import broker as bf


class Session(Protocol):
    """One authenticated broker connection, as its frame handlers see it."""

    engine: BusEngine
    coordinator: Coordinator | None

    @property
    def consumer_id(self) -> str: ...

    def send(self, frame: Any) -> None:
        """Queue ``frame`` on the connection's bounded sender."""

    def confirm(self, corr: str | int | None) -> None:
        """``OK`` for a fire-and-forget frame, only when it carried a ``corr``."""

    def send_error(self, err: PrometheanError, corr: str | int | None) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task the connection cancels when it closes."""


FrameHandler = Callable[[Any, Any], Awaitable[None]]
"""``handler(session, frame)``; `handles` checks the pairing when typed."""
HandlerTable = dict[type[bf.BrokerFrame], FrameHandler]

_S = TypeVar("_S", bound=Session)
_F = TypeVar("_F", bound=bf.BrokerFrame)


def handles(
    frame_type: type[_F], handler: Callable[[_S, _F], Awaitable[None]]
) -> tuple[type[bf.BrokerFrame], FrameHandler]:
    """One table entry: ``handler`` takes frames of ``frame_type``."""
    return frame_type, handler
