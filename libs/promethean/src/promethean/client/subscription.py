"""A client-side subscription: a bounded inbox, and either handler runners
or an async iterator over it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from promethean.client.process_span import process_span
from promethean.client.types import Handler, Message, SubscribeOptions
from promethean.frames import broker as bf
from promethean.frames.fields import Filter, FromSpec

log = logging.getLogger("promethean.client")

MAX_NACK_REASON_CHARS = 512


class ClientSubscription:
    """Created by `WebSocketBusClient.subscribe`.

    With a handler, ``concurrency`` runners take messages from the inbox;
    each message is acked when the handler returns and nacked (with the
    exception as reason) when it raises, unless ``manual_ack``. Without a
    handler, iterate it: ``async for message in sub: ...; await message.ack()``.
    """

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
        # subscription, so an inbox of at least that size never overflows.
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=inbox_size)
        self._on_stop = on_stop
        self._runners = [
            asyncio.create_task(self._run(), name=f"handler:{topic}/{group}")
            for _ in range(concurrency if handler is not None else 0)
        ]
        self.stopped = False

    def subscribe_frame(self, corr: int | None) -> bf.Subscribe:
        o = self.options
        start = FromSpec(kind=o.start, value=o.start_value) if o.start else None
        has_filter = o.filter_key is not None or o.filter_header is not None
        return bf.Subscribe(
            corr=corr,
            topic=self.topic,
            group=self.group,
            from_=start,
            max_inflight=o.max_inflight,
            ack_timeout_ms=o.ack_timeout_ms,
            filter=Filter(key=o.filter_key, header=o.filter_header) if has_filter else None,
        )

    def offer(self, message: Message) -> bool:
        if self.stopped:
            return True  # dropped on purpose: the broker takes it back
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    def drop_pending(self, lost_epoch: int) -> None:
        """Forget messages of the lost connection ``lost_epoch``; its broker
        redelivers them. Messages of other connections stay."""
        kept = []
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            if item is None or item.epoch != lost_epoch:
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
                self.inbox.put_nowait(None)  # let the other runners see it too
                return
            try:
                with process_span(message):
                    await handler(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "handler failed",
                    extra={
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                        "attempt": message.attempt,
                        "error": repr(exc),
                    },
                )
                if not self.manual_ack:
                    await message.nack(f"{type(exc).__name__}: {exc}"[:MAX_NACK_REASON_CHARS])
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
        """Unsubscribe: running handlers finish first; iteration ends."""
        if self.stopped:
            return
        await self._on_stop(self)

    def end(self) -> None:
        """Stop taking messages: drop the queued ones (the broker redelivers
        them) and wake every runner and iterator with the end marker."""
        self.stopped = True
        while not self.inbox.empty():
            self.inbox.get_nowait()
        self.inbox.put_nowait(None)

    async def shutdown(self, grace_s: float) -> None:
        """`end`, then give running handlers ``grace_s`` to finish (and ack)
        before cancelling them."""
        self.end()
        current = asyncio.current_task()  # a handler may stop its own subscription
        runners = [task for task in self._runners if not task.done() and task is not current]
        if runners and grace_s > 0:
            await asyncio.wait(runners, timeout=grace_s)
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
