"""One mock subscriber: the engine's `Consumer`, a bounded buffer with an
overflow policy, and the `SubscriptionHandle` the caller holds.

With overflow ``block`` and a buffer smaller than ``max_inflight`` the
subscription runs in the engine's credit mode (the FLOW mechanism of the
real protocol): it starts with ``buffer_size`` credits and earns one back
whenever a message leaves the buffer, so the broker never hands out more
than the subscriber can hold. A buffer of at least ``max_inflight`` needs no
credits (the engine never has more out), so the engine runs exactly as it
does for the real client; should stale copies of redelivered messages fill
it anyway, the newest is dropped, as the real client's inbox does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from promethean.bus import Delivery, EventFilter, StartKind, StartPosition, Subscription
from promethean.client.mock.config import Overflow
from promethean.client.mock.errors import BufferOverflowError
from promethean.client.mock.record import EventKind
from promethean.client.types import Handler, Message, SubscribeOptions
from promethean.errors import PrometheanError
from promethean.frames import broker as bf

if TYPE_CHECKING:
    from promethean.client.mock.client import MockClient

log = logging.getLogger("promethean.testing")

MAX_NACK_REASON_CHARS = 512
"""As the real client: a handler's exception text, cut to this length."""


class MockSubscription:
    def __init__(
        self,
        client: MockClient,
        frame: bf.Subscribe,
        options: SubscribeOptions,
        *,
        handler: Handler | None,
        manual_ack: bool,
        buffer_size: int,
        overflow: Overflow,
    ) -> None:
        self.topic = frame.topic
        self.group = frame.group
        self.options = options
        self.handler = handler
        self.manual_ack = manual_ack
        self.buffer_size = buffer_size
        self.overflow = overflow
        self.stopped = False
        self.failure: PrometheanError | None = None
        self.last_due_ms = 0
        """Arrival time of the latest in-order delivery (per-subscriber FIFO)."""
        self._client = client
        self._frame = frame
        self._buffer: deque[tuple[int, Message]] = deque()
        self._arrived = asyncio.Event()
        self._consumer_id = ""
        self._attachments = 0
        self._engine_sub: Subscription | None = None
        max_inflight = frame.max_inflight or client.broker.config.max_inflight
        self.uses_credits = overflow is Overflow.BLOCK and buffer_size < max_inflight

    def __repr__(self) -> str:
        return f"MockSubscription({self.topic!r}, {self.group!r}, buffered={len(self._buffer)})"

    @property
    def internal(self) -> bool:
        return self._client.internal

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- the engine's Consumer ---------------------------------------------

    @property
    def consumer_id(self) -> str:
        return self._consumer_id

    def deliver(self, delivery: Delivery) -> bool:
        message = self._client.message_for(delivery)
        self._client.broker.transport.hand_out(self, message)
        return True

    def drop_slow(self) -> None:
        """Never asked: `deliver` always accepts (the buffer decides later)."""

    # -- attachment to the engine ------------------------------------------

    async def attach(self) -> None:
        """Join the group (again, after a reconnect) under a fresh consumer id."""
        self._attachments += 1
        self._consumer_id = f"{self._client.uid}/{self.group}/{self.topic}#{self._attachments}"
        self.last_due_ms = 0
        frame = self._frame
        start = None
        if frame.from_ is not None:
            start = StartPosition(StartKind(frame.from_.kind), frame.from_.value)
        event_filter = None
        spec = frame.filter
        if spec is not None and (spec.key is not None or spec.header):
            header = (spec.header[0], spec.header[1]) if spec.header else None
            event_filter = EventFilter(spec.key, header)
        engine = self._client.broker.engine
        self._engine_sub, _ = await engine.subscribe(
            self,
            frame.topic,
            frame.group,
            start=start,
            max_inflight=frame.max_inflight,
            ack_timeout_ms=frame.ack_timeout_ms,
            event_filter=event_filter,
            credits=self.buffer_size if self.uses_credits else None,
        )

    def release_slot(self) -> None:
        """A message left the buffer (or never reached it): one more credit."""
        sub = self._engine_sub
        if self.uses_credits and sub is not None and sub.active:
            self._client.broker.engine.grant_credits(self._consumer_id, 1, self.topic, self.group)

    # -- arrivals ----------------------------------------------------------

    def accepts(self, message: Message) -> bool:
        return (
            not self.stopped
            and self.failure is None
            and self._client.connected
            and message.epoch == self._client.epoch
        )

    def receive(self, message: Message, seq: int) -> None:
        """A delivery arrives; a full buffer applies the overflow policy."""
        recorder = self._client.broker.recorder
        if len(self._buffer) >= self.buffer_size:
            if self.overflow is Overflow.DROP_OLDEST:
                _, oldest = self._buffer.popleft()
                recorder.dropped(oldest, "buffer full: drop-oldest")
            elif self.overflow is Overflow.RAISE:
                self._overflowed(message)
                return
            else:
                # drop-newest, or block without credits overrun by stale copies
                recorder.dropped(message, f"buffer full: {self.overflow}")
                return
        self._buffer.append((seq, message))
        self._arrived.set()

    def _overflowed(self, message: Message) -> None:
        self.failure = BufferOverflowError(
            f"subscriber {self.group} on {self.topic} overflowed its buffer of "
            f"{self.buffer_size} (overflow=raise); it was dropped as a slow consumer"
        )
        broker = self._client.broker
        broker.recorder.log_message(EventKind.OVERFLOW, message, str(self.failure))
        broker.report(self.failure)
        broker.release_later(self._consumer_id)
        self._buffer.clear()
        self._arrived.set()

    def head_seq(self) -> int | None:
        return self._buffer[0][0] if self._buffer else None

    def take(self) -> Message | None:
        """The oldest buffered message, now handed to subscriber code."""
        if not self._buffer:
            return None
        _, message = self._buffer.popleft()
        self.release_slot()
        if not self.internal:
            self._client.broker.recorder.delivered(message)
        self._client.broker.activity += 1
        return message

    # -- handler -----------------------------------------------------------

    async def run_handler(self, message: Message) -> None:
        handler = self.handler
        if handler is None:
            return
        try:
            await handler(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "handler failed; nacking",
                extra={"topic": message.topic, "offset": message.offset, "error": repr(exc)},
            )
            if not self.manual_ack:
                await message.nack(f"{type(exc).__name__}: {exc}"[:MAX_NACK_REASON_CHARS])
            return
        if not self.manual_ack:
            await message.ack()

    # -- SubscriptionHandle ------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        if self.handler is not None:
            raise TypeError("this subscription runs a handler; it cannot be iterated")
        while True:
            message = self.take()
            if message is not None:
                if self.uses_credits:
                    await self._client.broker.pump()  # the credit just earned
                return message
            if self.failure is not None:
                raise self.failure
            if self.stopped:
                raise StopAsyncIteration
            # As the real client: a lost connection is waited out (the test
            # calls reconnect()), the subscription resumes afterwards.
            self._arrived.clear()
            await self._arrived.wait()

    async def stop(self) -> None:
        if self.stopped:
            return
        await self._client.unsubscribe(self.topic, self.group)

    # -- lifecycle (called by the client) ----------------------------------

    def shutdown(self) -> None:
        """End iteration; buffered messages are forgotten (the group gets them back)."""
        self.stopped = True
        self._buffer.clear()
        self._arrived.set()

    def connection_lost(self) -> None:
        self._buffer.clear()
        self._arrived.set()
