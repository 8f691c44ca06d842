"""`TaskQueue`: background jobs on a topic, built only on the `BusClient`
protocol (so it runs on the real broker and the mock broker alike).

A task is an event on the queue's topic; workers are one consumer group.
Nothing here retries: a handler that raises nacks its task, the broker
redelivers it with ``attempt`` + 1 (after its redelivery backoff), and after
the topic's ``max_attempts`` it moves the task to ``<topic>.DLQ`` with the
last error as reason. A task whose worker's connection drops, or that
outlives its ack deadline, goes to another worker: handlers must tolerate
running twice (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from promethean.client.port import BusClient, SubscriptionHandle
from promethean.client.process_span import process_span
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.names import dlq_topic, is_valid_name

log = logging.getLogger("promethean.client.tasks")

DEFAULT_GROUP: Final = "workers"
DEFAULT_STOP_GRACE_S: Final = 30.0
MAX_REASON_CHARS: Final = 512


@dataclass(slots=True)
class WorkerStats:
    succeeded: int = 0
    failed: int = 0
    """Handler calls that raised (their tasks were nacked)."""


class TaskQueue:
    """``TaskQueue(bus, "emails")``: ``enqueue`` tasks on topic ``emails``,
    run workers with ``run_worker`` or ``async with queue.worker(...)``."""

    def __init__(self, bus: BusClient, name: str) -> None:
        if not is_valid_name(name):
            raise ValueError(f"{name!r} is not a valid topic name")
        self.bus = bus
        self.topic = name

    @property
    def dlq_topic(self) -> str:
        """Where tasks go after the topic's ``max_attempts`` failed attempts."""
        return dlq_topic(self.topic)

    async def enqueue(
        self,
        payload: Any,
        *,
        key: str | None = None,
        id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Published:
        """Store one task durably. Enqueueing an ``id`` again stores nothing
        new (``Published.duplicate``); tasks with one ``key`` share a partition."""
        return await self.bus.publish(self.topic, payload, key=key, headers=headers, id=id)

    def worker(
        self,
        handler: Handler,
        *,
        group: str = DEFAULT_GROUP,
        concurrency: int = 1,
        prefetch: int = 0,
        ack_timeout_ms: int | None = None,
    ) -> Worker:
        """A worker to run as ``async with``; it stops when the block ends."""
        return Worker(
            self.bus,
            self.topic,
            handler,
            group=group,
            concurrency=concurrency,
            prefetch=prefetch,
            ack_timeout_ms=ack_timeout_ms,
        )

    async def run_worker(
        self,
        handler: Handler,
        *,
        group: str = DEFAULT_GROUP,
        concurrency: int = 1,
        prefetch: int = 0,
        ack_timeout_ms: int | None = None,
    ) -> None:
        """Run a worker until the calling task is cancelled (or the client
        closes); running tasks finish before it returns."""
        worker = self.worker(
            handler,
            group=group,
            concurrency=concurrency,
            prefetch=prefetch,
            ack_timeout_ms=ack_timeout_ms,
        )
        async with worker:
            await worker.wait()

    async def dead_letters(self, group: str) -> SubscriptionHandle:
        """Iterate the dead-lettered tasks (from the oldest) as ``group``.
        Each carries the ``x-dlq-reason`` and ``x-dlq-attempts`` headers."""
        options = SubscribeOptions(start="earliest")
        return await self.bus.subscribe(self.dlq_topic, group, options=options)


class Worker:
    """``concurrency`` loops take tasks from one subscription of ``group``.

    At most ``concurrency + prefetch`` tasks are held at once, so idle
    workers elsewhere in the group get the rest. A new group starts at the
    oldest task, so tasks enqueued before any worker ran are not skipped.
    """

    def __init__(
        self,
        bus: BusClient,
        topic: str,
        handler: Handler,
        *,
        group: str,
        concurrency: int,
        prefetch: int,
        ack_timeout_ms: int | None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if prefetch < 0:
            raise ValueError("prefetch must not be negative")
        self._bus = bus
        self.topic = topic
        self.group = group
        self._handler = handler
        self._concurrency = concurrency
        self._options = SubscribeOptions(
            start="earliest", max_inflight=concurrency + prefetch, ack_timeout_ms=ack_timeout_ms
        )
        self.stats = WorkerStats()
        self._handle: SubscriptionHandle | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._idle: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._finished = asyncio.Event()

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._handle is not None:
            raise RuntimeError("worker already started")
        self._handle = await self._bus.subscribe(self.topic, self.group, options=self._options)
        self._loops = [
            asyncio.create_task(self._loop(self._handle), name=f"worker:{self.topic}/{i}")
            for i in range(self._concurrency)
        ]

    async def wait(self) -> None:
        """Until the worker is stopped or its subscription ends."""
        await self._finished.wait()

    async def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        """Take no new tasks; give running ones ``grace_s`` to finish, cancel
        the rest (they go back to the group), unsubscribe."""
        if self._stopping:
            await self._finished.wait()
            return
        self._stopping = True
        try:
            for task in self._idle:
                task.cancel()
            running = [task for task in self._loops if not task.done()]
            if running:
                _, late = await asyncio.wait(running, timeout=grace_s)
                for task in late:
                    log.warning("task still running at stop; cancelling it", extra=self._where)
                    task.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
            if self._handle is not None:
                await self._handle.stop()
        finally:
            self._finished.set()

    @property
    def _where(self) -> dict[str, str]:
        return {"topic": self.topic, "group": self.group}

    async def _loop(self, handle: SubscriptionHandle) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping:
            self._idle.add(me)
            try:
                message = await anext(handle)
            except StopAsyncIteration:
                break
            finally:
                self._idle.discard(me)
            await self._run_one(message)
        if not self._stopping:
            self._finished.set()  # the subscription ended under us (client closed)

    async def _run_one(self, message: Message) -> None:
        try:
            with process_span(message):
                await self._handler(message)
        except Exception as exc:
            self.stats.failed += 1
            log.warning(
                "task failed; the broker will retry it or dead-letter it",
                extra={
                    **self._where,
                    "id": message.id,
                    "attempt": message.attempt,
                    "error": repr(exc),
                },
            )
            await message.nack(f"{type(exc).__name__}: {exc}"[:MAX_REASON_CHARS])
            return
        self.stats.succeeded += 1
        await message.ack()
