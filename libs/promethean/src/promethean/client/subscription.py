"""A client-side subscription: a bounded inbox, and either a handler runner
or an async iterator over it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from promethean.client.types import Handler, Message, SubscribeOptions

log = logging.getLogger("promethean.client")


class ClientSubscription:
    def __init__(
        self,
        topic: str,
        group: str,
        options: SubscribeOptions,
        *,
        handler: Handler | None,
        manual_ack: bool,
        concurrency: int,
        inbox_size: int,
        on_stop: Callable[[ClientSubscription], Awaitable[None]],
    ) -> None:
        self.topic = topic
        self.group = group
        self.options = options
        self.handler = handler
        self.manual_ack = manual_ack
        # The broker never has more than max_inflight deliveries out to this
        # subscription, so an inbox of that size never overflows.
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=inbox_size)
        self._on_stop = on_stop
        self._runners = [
            asyncio.create_task(self._run(), name=f"handler:{topic}/{group}")
            for _ in range(concurrency if handler is not None else 0)
        ]
        self.stopped = False

    def offer(self, message: Message) -> bool:
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    def drop_pending(self, epoch: int) -> None:
        """Forget messages of a lost connection; the broker redelivers them."""
        kept = []
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            if item is None or item.epoch >= epoch:
                kept.append(item)
        for item in kept:
            self.inbox.put_nowait(item)

    async def _run(self) -> None:
        handler = self.handler
        if handler is None:
            return
        while True:
            message = await self.inbox.get()
            if message is None:
                self.inbox.put_nowait(None)
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
                    await message.nack(f"{type(exc).__name__}: {exc}"[:512])
                continue
            if not self.manual_ack:
                await message.ack()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        if self.handler is not None:
            raise TypeError("this subscription runs a handler; it cannot be iterated")
        message = await self.inbox.get()
        if message is None:
            self.inbox.put_nowait(None)
            raise StopAsyncIteration
        return message

    async def stop(self) -> None:
        if self.stopped:
            return
        await self._on_stop(self)

    async def shutdown(self) -> None:
        """End iteration and handler runners (called by the client)."""
        self.stopped = True
        while not self.inbox.empty():
            self.inbox.get_nowait()
        self.inbox.put_nowait(None)
        for task in self._runners:
            task.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
