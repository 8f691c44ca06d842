"""The runtime kit's watchdog: 70 after losing the dependency too long, 71
after a stall, nothing while healthy or paused; exits through the function
it is given."""

from __future__ import annotations

import asyncio
import time

from promethean.runtime.exit_codes import EXIT_DISCONNECTED, EXIT_STALLED
from promethean.runtime.health import Dependency, Progress
from promethean.runtime.watchdog import Watchdog

LIMIT_MS = 30
PAST_LIMIT_S = 0.08


class FakeExit:
    def __init__(self) -> None:
        self.codes: list[int] = []

    def __call__(self, code: int) -> None:
        self.codes.append(code)


def watchdog(
    *, stall_ms: int = 60_000, kill_ms: int = 60_000, connected: bool = True
) -> tuple[Watchdog, Progress, Dependency, FakeExit]:
    progress = Progress(stall_ms)
    dependency = Dependency("broker")
    if connected:
        dependency.up()
    exit_ = FakeExit()
    dog = Watchdog(
        progress, dependency, disconnect_kill_ms=kill_ms, check_every_ms=5, exit_process=exit_
    )
    return dog, progress, dependency, exit_


def test_healthy_means_no_verdict() -> None:
    dog, *_ = watchdog()
    assert dog.verdict() is None


def test_a_dependency_down_past_the_limit_means_70() -> None:
    dog, _, dependency, _ = watchdog(kill_ms=LIMIT_MS)
    dependency.down()
    assert dog.verdict() is None, "down, but not for long yet"
    time.sleep(PAST_LIMIT_S)
    assert dog.verdict() == EXIT_DISCONNECTED


def test_a_dependency_that_comes_back_clears_the_verdict() -> None:
    dog, _, dependency, _ = watchdog(kill_ms=LIMIT_MS, connected=False)
    time.sleep(PAST_LIMIT_S)
    assert dog.verdict() == EXIT_DISCONNECTED
    dependency.up()
    assert dog.verdict() is None
    dependency.down()
    assert dog.verdict() is None, "the outage is counted from the latest loss"


def test_no_progress_past_the_limit_means_71_and_a_tick_clears_it() -> None:
    dog, progress, _, _ = watchdog(stall_ms=LIMIT_MS)
    time.sleep(PAST_LIMIT_S)
    assert dog.verdict() == EXIT_STALLED
    progress.tick()
    assert dog.verdict() is None


def test_losing_the_dependency_wins_over_a_stall() -> None:
    dog, *_ = watchdog(stall_ms=LIMIT_MS, kill_ms=LIMIT_MS, connected=False)
    time.sleep(PAST_LIMIT_S)
    assert dog.verdict() == EXIT_DISCONNECTED


def test_a_paused_watchdog_judges_nothing() -> None:
    dog, *_ = watchdog(stall_ms=LIMIT_MS, kill_ms=LIMIT_MS, connected=False)
    time.sleep(PAST_LIMIT_S)
    dog.paused = True
    assert dog.verdict() is None


async def test_run_exits_once_with_the_verdict() -> None:
    dog, _, dependency, exit_ = watchdog(kill_ms=LIMIT_MS)
    dependency.down()
    await asyncio.wait_for(dog.run(), timeout=5)
    assert exit_.codes == [EXIT_DISCONNECTED]


async def test_run_exits_71_on_a_stall() -> None:
    dog, _, _, exit_ = watchdog(stall_ms=LIMIT_MS)
    await asyncio.wait_for(dog.run(), timeout=5)
    assert exit_.codes == [EXIT_STALLED]


async def test_run_keeps_watching_while_healthy() -> None:
    dog, progress, _, exit_ = watchdog(stall_ms=200)
    task = asyncio.create_task(dog.run())
    for _ in range(10):
        progress.tick()
        await asyncio.sleep(0.03)
    assert not task.done()
    assert exit_.codes == []
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
