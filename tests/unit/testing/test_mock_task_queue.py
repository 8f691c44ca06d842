"""`TaskQueue` (built on `BusClient` only) runs on the mock unchanged:
workers are tasks of their own, so tests drain to let them work."""

from __future__ import annotations

from promethean.client import Message
from promethean.client.tasks import TaskQueue
from promethean.testing import InMemoryBroker, MockConfig


async def test_tasks_run_and_are_acked(bus: InMemoryBroker) -> None:
    queue = TaskQueue(bus, "emails")
    sent: list[str] = []

    async def send(message: Message) -> None:
        sent.append(message.payload["to"])

    await queue.enqueue({"to": "ada@example.com"}, id="mail-1")
    async with queue.worker(send, concurrency=2) as worker:
        await queue.enqueue({"to": "bob@example.com"}, id="mail-2")
        await bus.drain()
        assert sorted(sent) == ["ada@example.com", "bob@example.com"]
        assert worker.stats.succeeded == 2
    assert bus.counters.acked == 2


async def test_failing_tasks_are_retried_then_dead_lettered() -> None:
    async with InMemoryBroker(MockConfig(max_attempts=3)) as bus:
        queue = TaskQueue(bus, "reports")
        attempts: list[int] = []

        async def build(message: Message) -> None:
            attempts.append(message.attempt)
            raise RuntimeError("template missing")

        async with queue.worker(build) as worker:
            await queue.enqueue({"report": 7})
            await bus.drain()
            assert attempts == [1, 2, 3]
            assert worker.stats.failed == 3
        dead = await queue.dead_letters("ops")
        await bus.drain()
        letter = await anext(dead)
        assert letter.payload == {"report": 7}
        assert letter.headers is not None
        assert letter.headers["x-dlq-reason"] == "RuntimeError: template missing"


async def test_a_slow_worker_loses_its_task_after_the_deadline(bus: InMemoryBroker) -> None:
    queue = TaskQueue(bus, "exports")
    started: list[int] = []

    async def stuck(message: Message) -> None:
        started.append(message.attempt)
        if message.attempt == 1:
            await bus.disconnect_now()  # the worker's connection dies mid-task

    async with queue.worker(stuck, ack_timeout_ms=1_000):
        await queue.enqueue({"export": 1})
        await bus.drain()
        assert started == [1]
        await bus.reconnect()
        await bus.drain()
        assert started == [1, 2]
