"""`StoreHealth`: readiness from the store's outcomes, one log line per
interval while failing, and a settle time for probe successes."""

from __future__ import annotations

import logging
import time

import pytest

from promethean.runtime.health import Dependency, Progress, Readiness, StoreHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts() -> tuple[StoreHealth, Readiness, Dependency, Clock]:
    readiness, link, clock = Readiness(), Dependency("store"), Clock()
    link.up()
    return StoreHealth(readiness, link, clock=clock), readiness, link, clock


def test_a_failure_turns_readiness_off_and_the_link_down(parts) -> None:
    health, readiness, link, _ = parts
    health.failed("publish failed: sqlite: database or disk is full")
    assert not health.healthy
    assert readiness.reasons == {"store": "publish failed: sqlite: database or disk is full"}
    assert not link.connected


def test_a_settled_write_clears_at_once(parts) -> None:
    health, readiness, link, _ = parts
    health.failed("x")
    health.succeeded(settled=True)
    assert health.healthy
    assert readiness.ready
    assert link.connected


def test_a_probe_clears_only_after_the_settle_time(parts) -> None:
    health, readiness, _, clock = parts
    health.failed("x")
    clock.now += 1.0
    health.succeeded()
    assert not readiness.ready
    clock.now += 1.5
    health.succeeded()
    assert readiness.ready


def test_failures_log_one_line_per_interval_without_traceback(
    parts, caplog: pytest.LogCaptureFixture
) -> None:
    health, _, _, clock = parts
    with caplog.at_level(logging.WARNING, logger="promethean.store.health"):
        for _ in range(100):  # 10 s of failures every 0.1 s
            health.failed("down")
            clock.now += 0.1
        health.succeeded(settled=True)
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("store unavailable; not ready until it answers again") == 2
    assert messages[-1] == "store available again"
    assert all(r.exc_info is None for r in caplog.records)


def test_progress_is_not_stalled_while_the_store_is_failing() -> None:
    progress = Progress(max_stall_ms=0)
    waiting = [True]
    progress.excuse_while(lambda: waiting[0])
    time.sleep(0.01)
    assert progress.stalled_ms == 0
    assert progress.live
    waiting[0] = False
    time.sleep(0.01)
    assert progress.stalled_ms >= 10
    assert not progress.live
