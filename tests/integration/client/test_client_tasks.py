"""`TaskQueue` on a real broker (``PROMETHEAN_MAX_ATTEMPTS=3``): workers,
retries by redelivery, poison tasks in ``<topic>.DLQ``, graceful stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from promethean.client import Message, WebSocketBusClient
from promethean.client.tasks import TaskQueue

MAX_ATTEMPTS = 3  # the test broker's PROMETHEAN_MAX_ATTEMPTS


@pytest.fixture
async def bus(broker: Any) -> AsyncIterator[WebSocketBusClient]:
    async with WebSocketBusClient(broker.url) as client:
        yield client


async def lag_is_zero(broker: Any, topic: str, group: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (await broker.admin_async(f"/lag?topic={topic}&group={group}"))["lag"] != 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{group} still lags on {topic} after {timeout_s}s")
        await asyncio.sleep(0.05)


def test_a_queue_needs_a_valid_topic_name(unused_url: str) -> None:
    with pytest.raises(ValueError, match="not a valid topic name"):
        TaskQueue(WebSocketBusClient(unused_url), "no spaces allowed")


async def test_worker_runs_tasks_enqueued_before_and_after_it_started(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    queue = TaskQueue(bus, names.topic("emails"))
    for i in range(10):
        await queue.enqueue({"to": f"user{i}@example.com"})
    done: list[str] = []
    all_done = asyncio.Event()

    async def send_email(task: Message) -> None:
        done.append(task.payload["to"])
        if len(done) == 20:
            all_done.set()

    async with queue.worker(send_email, group=names.group(), concurrency=3) as worker:
        for i in range(10, 20):
            await queue.enqueue({"to": f"user{i}@example.com"})
        await asyncio.wait_for(all_done.wait(), 20)
        assert worker.stats.succeeded == 20
        assert worker.stats.failed == 0
    assert sorted(done) == sorted(f"user{i}@example.com" for i in range(20))


async def test_enqueue_with_an_id_is_idempotent(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    queue = TaskQueue(bus, names.topic())
    first = await queue.enqueue({"invoice": 42}, id="invoice-42")
    again = await queue.enqueue({"invoice": 42}, id="invoice-42")
    assert again.duplicate
    assert (again.partition, again.offset) == (first.partition, first.offset)
    assert await asyncio.to_thread(broker.stored_count, queue.topic) == 1


async def test_a_failing_task_is_retried_by_redelivery(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    queue, group = TaskQueue(bus, names.topic()), names.group()
    attempts: list[int] = []
    succeeded = asyncio.Event()

    async def flaky(task: Message) -> None:
        attempts.append(task.attempt)
        if task.attempt < MAX_ATTEMPTS:
            raise ConnectionError("smtp server busy")
        succeeded.set()

    await queue.enqueue({"n": 1})
    async with queue.worker(flaky, group=group) as worker:
        await asyncio.wait_for(succeeded.wait(), 20)
        await lag_is_zero(broker, queue.topic, group)
        assert (worker.stats.failed, worker.stats.succeeded) == (MAX_ATTEMPTS - 1, 1)
    assert attempts == list(range(1, MAX_ATTEMPTS + 1))


async def test_a_poison_task_ends_in_the_dlq_and_the_rest_still_run(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    queue, group = TaskQueue(bus, names.topic("resize")), names.group()
    healthy_done = asyncio.Event()
    poison_attempts: list[int] = []

    async def resize(task: Message) -> None:
        if task.payload["image"] == "corrupt.png":
            poison_attempts.append(task.attempt)
            raise ValueError("cannot decode corrupt.png")
        if task.payload["image"] == "ok-4.png":
            healthy_done.set()

    poison = await queue.enqueue({"image": "corrupt.png"}, key="img")
    for i in range(5):
        await queue.enqueue({"image": f"ok-{i}.png"}, key="img")
    async with queue.worker(resize, group=group) as worker:
        await asyncio.wait_for(healthy_done.wait(), 20)
        await lag_is_zero(broker, queue.topic, group)
        assert worker.stats.succeeded == 5
    assert poison_attempts == list(range(1, MAX_ATTEMPTS + 1))

    dead = await queue.dead_letters(names.group("dlq-reader"))
    async with asyncio.timeout(10):
        letter = await anext(dead)
    assert letter.topic == f"{queue.topic}.DLQ"
    assert letter.payload == {"image": "corrupt.png"}
    assert letter.caused_by == [poison.id]
    assert letter.headers is not None
    assert letter.headers["x-dlq-attempts"] == str(MAX_ATTEMPTS)
    assert letter.headers["x-dlq-original-id"] == poison.id
    assert "cannot decode corrupt.png" in letter.headers["x-dlq-reason"]
    await letter.ack()
    await dead.stop()


async def test_concurrency_runs_that_many_tasks_at_once(
    bus: WebSocketBusClient, names: Any
) -> None:
    queue = TaskQueue(bus, names.topic())
    running = 0
    peak = 0
    finished = 0
    all_done = asyncio.Event()

    async def slow(task: Message) -> None:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.1)
        running -= 1
        finished += 1
        if finished == 12:
            all_done.set()

    for i in range(12):
        await queue.enqueue({"n": i})
    async with queue.worker(slow, group=names.group(), concurrency=4):
        await asyncio.wait_for(all_done.wait(), 20)
    assert peak == 4


async def test_two_workers_in_one_group_share_the_tasks(broker: Any, names: Any) -> None:
    topic, group = names.topic(), names.group()
    seen: dict[str, list[int]] = {"a": [], "b": []}
    all_done = asyncio.Event()

    def handler_for(name: str) -> Any:
        async def handle(task: Message) -> None:
            seen[name].append(task.payload["n"])
            await asyncio.sleep(0.005)
            if len(seen["a"]) + len(seen["b"]) == 60:
                all_done.set()

        return handle

    async with WebSocketBusClient(broker.url) as a, WebSocketBusClient(broker.url) as b:
        queue_a, queue_b = TaskQueue(a, topic), TaskQueue(b, topic)
        async with (
            queue_a.worker(handler_for("a"), group=group),
            queue_b.worker(handler_for("b"), group=group),
        ):
            await asyncio.gather(*(queue_a.enqueue({"n": i}) for i in range(60)))
            await asyncio.wait_for(all_done.wait(), 20)
    assert sorted(seen["a"] + seen["b"]) == list(range(60))
    assert seen["a"]
    assert seen["b"]


async def test_stop_lets_the_running_task_finish_and_ack(
    bus: WebSocketBusClient, broker: Any, names: Any
) -> None:
    queue, group = TaskQueue(bus, names.topic()), names.group()
    started = asyncio.Event()
    finished: list[int] = []

    async def long_task(task: Message) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(task.attempt)

    await queue.enqueue({"n": 1})
    worker = queue.worker(long_task, group=group)
    await worker.start()
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop()
    assert finished == [1]
    assert worker.stats.succeeded == 1
    await lag_is_zero(broker, queue.topic, group)


async def test_run_worker_returns_after_cancellation(bus: WebSocketBusClient, names: Any) -> None:
    queue = TaskQueue(bus, names.topic())
    handled = asyncio.Event()

    async def handle(task: Message) -> None:
        handled.set()

    runner = asyncio.create_task(queue.run_worker(handle, group=names.group(), concurrency=2))
    await queue.enqueue({"n": 1})
    await asyncio.wait_for(handled.wait(), 10)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(runner, 10)


async def test_worker_ends_when_its_client_closes(broker: Any, names: Any) -> None:
    async with WebSocketBusClient(broker.url) as bus:
        queue = TaskQueue(bus, names.topic())

        async def handle(task: Message) -> None:
            pass

        worker = queue.worker(handle, group=names.group())
        await worker.start()
    await asyncio.wait_for(worker.wait(), 10)
    await worker.stop()
