"""The worker's watchdog against a real broker: a silent broker ends the
worker with 70, a handler that blocks ends it with 71, so Kubernetes
restarts the pod instead of leaving it hanging."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from promethean.client import WebSocketBusClient
from promethean.runtime.exit_codes import EXIT_DISCONNECTED, EXIT_STALLED
from tests.fixtures.broker import BrokerFactory
from tests.integration.worker.support import RECORD_HANDLER, WorkerFactory

KILL_MS = 1_500
STALL_MS = 1_500
MARGIN_S = 10.0
"""Generous: several helpers share the machine."""


def test_a_silent_broker_ends_the_worker_with_70(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process()
    worker = worker_process(broker, {"PROMETHEAN_DISCONNECT_KILL_MS": str(KILL_MS)})
    broker.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
    stopped = time.monotonic()
    try:
        code = worker.wait_exit(timeout=KILL_MS / 1000 + MARGIN_S)
    finally:
        broker.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
    waited = time.monotonic() - stopped
    assert code == EXIT_DISCONNECTED, worker.log_tail()
    assert waited >= KILL_MS / 1000, "the worker gave up before the limit"
    assert "dependency unreachable too long" in worker.log_tail()


def test_an_unreachable_broker_at_start_ends_the_worker_with_70(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process()
    broker.kill()
    worker = worker_process(
        broker, {"PROMETHEAN_DISCONNECT_KILL_MS": str(KILL_MS)}, wait_ready=False
    )
    assert worker.wait_exit(timeout=KILL_MS / 1000 + MARGIN_S) == EXIT_DISCONNECTED


@pytest.mark.parametrize("block", ["loop", "await"])
async def test_a_blocked_handler_ends_the_worker_with_71(
    broker_process: BrokerFactory, worker_process: WorkerFactory, block: str
) -> None:
    broker = broker_process()
    worker = worker_process(
        broker,
        {
            "PROMETHEAN_WORKER_HANDLERS": RECORD_HANDLER + "@jobs",
            "PROMETHEAN_LIVENESS_MAX_STALL_MS": str(STALL_MS),
        },
    )
    async with WebSocketBusClient(broker.url) as bus:
        await bus.publish("jobs", {"seq": 1}, key="a")
        await bus.publish("jobs", {"seq": 2, "block": block}, key="a")
    started = time.monotonic()
    code = await asyncio.to_thread(worker.wait_exit, STALL_MS / 1000 + MARGIN_S)
    assert code == EXIT_STALLED, worker.log_tail()
    assert time.monotonic() - started >= STALL_MS / 1000 - 0.5
    assert [r.seq for r in worker.records()] == [1]
    assert "no progress too long" in worker.log_tail()
