"""A handler that records what it receives, for either implementation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from promethean.client.mock.errors import InjectedFaultError
from promethean.client.types import Message

WAIT_TIMEOUT_S = 10.0


class RecordingSubscriber:
    """Pass it as a handler; it keeps every message it is given, in order.

    ``fail_when(message)`` returning True makes that call raise
    `InjectedFaultError` (so the client nacks it), e.g.
    ``fail_when=lambda m: m.attempt < 3`` fails the first two attempts.
    """

    def __init__(self, *, fail_when: Callable[[Message], bool] | None = None) -> None:
        self.messages: list[Message] = []
        self.fail_when = fail_when
        self._changed = asyncio.Condition()

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def payloads(self) -> list[Any]:
        return [m.payload for m in self.messages]

    @property
    def attempts(self) -> list[int]:
        return [m.attempt for m in self.messages]

    def of(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
        async with self._changed:
            self._changed.notify_all()
        if self.fail_when is not None and self.fail_when(message):
            raise InjectedFaultError(f"recording subscriber told to fail {message!r}")

    async def wait_for(self, count: int, timeout_s: float = WAIT_TIMEOUT_S) -> list[Message]:
        """Wait (real time) until ``count`` messages arrived. Against the mock
        they normally have by the time publish returns; against a real broker
        this is how a test waits without sleeping."""
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self.messages) >= count), timeout_s
                )
        except TimeoutError:
            raise AssertionError(
                f"expected {count} messages within {timeout_s}s, got {len(self.messages)}: "
                f"{self.messages!r}"
            ) from None
        return list(self.messages)


def recording_subscriber(
    *, fail_when: Callable[[Message], bool] | None = None
) -> RecordingSubscriber:
    return RecordingSubscriber(fail_when=fail_when)
