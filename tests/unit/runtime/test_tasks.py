"""The task set: tasks leave it when they end, and are cancelled together."""

from __future__ import annotations

import asyncio
import logging

import pytest

from promethean.runtime.tasks import TaskSet


async def test_a_finished_task_leaves_the_set() -> None:
    tasks = TaskSet()
    done = asyncio.Event()

    async def work() -> None:
        done.set()

    task = tasks.spawn(work(), "work")
    await task
    assert done.is_set()
    assert len(tasks) == 0


async def test_cancel_stops_every_running_task_and_waits_for_them() -> None:
    tasks = TaskSet()
    started = asyncio.Event()
    forever = asyncio.Event()

    async def wait() -> None:
        started.set()
        await forever.wait()

    running = [tasks.spawn(wait(), f"wait-{i}") for i in range(3)]
    await asyncio.wait_for(started.wait(), 5)
    await tasks.cancel()
    assert all(task.cancelled() for task in running)
    assert len(tasks) == 0


async def test_a_failed_task_is_logged_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet()

    async def fail() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="promethean.tasks"):
        task = tasks.spawn(fail(), "failing")
        await asyncio.gather(task, return_exceptions=True)
    assert [r.task for r in caplog.records] == ["failing"]  # type: ignore[attr-defined]
    assert len(tasks) == 0
