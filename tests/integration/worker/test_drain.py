"""SIGTERM under load: the worker stops intake, finishes or gives back what
it holds, leaves, and exits 0 within PROMETHEAN_DRAIN_MS; nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import time

from promethean.client import WebSocketBusClient
from tests.fixtures.broker import BrokerFactory
from tests.integration.worker.support import RECORD_HANDLER, WorkerFactory

EVENTS = 1_500
KEYS = 20
DRAIN_MS = 5_000
MARGIN_S = 5.0


async def wait_until(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_sigterm_under_load_exits_0_in_time_and_loses_nothing(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process({"BUS_ACK_TIMEOUT_MS": "5000"})
    env = {
        "PROMETHEAN_WORKER_HANDLERS": RECORD_HANDLER + "@jobs",
        "PROMETHEAN_DRAIN_MS": str(DRAIN_MS),
    }
    leaving = worker_process(broker, env, name="leaving")
    staying = worker_process(broker, env, name="staying")

    async with WebSocketBusClient(broker.url) as bus:
        await asyncio.gather(
            *(
                bus.publish("jobs", {"seq": seq, "sleep_ms": 2}, key=f"k{seq % KEYS}")
                for seq in range(EVENTS)
            )
        )
    await wait_until(lambda: len(leaving.records()) >= 50, 30, "the leaving worker to be busy")

    leaving.signal(signal.SIGTERM)
    started = time.monotonic()
    code = await asyncio.to_thread(leaving.wait_exit, DRAIN_MS / 1000 + MARGIN_S)
    took = time.monotonic() - started
    assert code == 0, leaving.log_tail()
    assert took < DRAIN_MS / 1000 + 1.0, f"drain took {took:.1f}s"
    assert "worker drained" in leaving.log_tail()

    def seen() -> set[int]:
        return {r.seq for w in (leaving, staying) for r in w.records()}

    await wait_until(lambda: len(seen()) == EVENTS, 60, "every event to be processed")
    assert seen() == set(range(EVENTS))
    assert staying.records()
    assert leaving.records()
