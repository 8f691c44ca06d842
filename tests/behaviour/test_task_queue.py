"""`TaskQueue` is built on `BusClient` alone, so it must behave the same on
both implementations (its workers are tasks of their own)."""

from __future__ import annotations

from promethean.client import Message
from promethean.client.tasks import TaskQueue
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique


async def test_every_task_runs_once_whenever_it_was_enqueued(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    queue = TaskQueue(bus, unique("emails"))
    done = recording_subscriber()
    await queue.enqueue({"n": 0}, id="task-0")
    async with queue.worker(done, concurrency=2):
        for n in range(1, 4):
            await queue.enqueue({"n": n}, id=f"task-{n}")
        await queue.enqueue({"n": 3}, id="task-3")
        await bus_harness.received(done, 4)
        await bus_harness.quiet()
    assert sorted(p["n"] for p in done.payloads) == [0, 1, 2, 3]


async def test_a_failing_task_is_retried_then_dead_lettered(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    queue = TaskQueue(bus, unique("reports"))
    tries = recording_subscriber()

    async def build(message: Message) -> None:
        await tries(message)
        raise RuntimeError("template missing")

    async with queue.worker(build):
        await queue.enqueue({"report": 7})
        await bus_harness.received(tries, bus_harness.settings.max_attempts)
        dead = await queue.dead_letters(unique("ops"))
        letter = await bus_harness.next(dead)
    assert tries.attempts == list(range(1, bus_harness.settings.max_attempts + 1))
    assert letter.payload == {"report": 7}
    assert (letter.headers or {})["x-dlq-reason"] == "RuntimeError: template missing"
