"""Partitioned workers against a real broker: scaling moves partitions
with nothing lost and per-key order kept; a killed member's partitions move
after the session timeout; a member restarted under the same instance id
inside the timeout gets its partitions back without a rebalance."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

from promethean.client import WebSocketBusClient
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.ownership import assert_exclusive
from tests.integration.worker.support import (
    RECORD_HANDLER,
    WorkerFactory,
    WorkerProcess,
    analyse,
)

TOPIC = "events"
GROUP = "promethean-worker"
PARTITIONS = 12
EVENTS = 20_000
KEYS = 200
SESSION_TIMEOUT_MS = 2_000
HEARTBEAT_MS = 300
BROKER_ENV = {
    "PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS),
    "PROMETHEAN_HEARTBEAT_MS": str(HEARTBEAT_MS),
    "PROMETHEAN_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
    "BUS_ACK_TIMEOUT_MS": "30000",
}
WORKER_ENV = {"PROMETHEAN_WORKER_HANDLERS": f"{RECORD_HANDLER}@{TOPIC}"}


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def owned(worker: WorkerProcess) -> set[int]:
    status, body = worker.get("/assignment")
    assert status == 200
    return set(body["topics"].get(TOPIC, {}).get("owned", []))


def owners(workers: list[WorkerProcess]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for worker in workers:
        for partition in owned(worker):
            result.setdefault(partition, []).append(worker.name)
    return result


def settled(workers: list[WorkerProcess]) -> bool:
    """Every partition owned by exactly one of ``workers``, counts within 1."""
    table = owners(workers)
    counts = [len(owned(w)) for w in workers]
    return (
        sorted(table) == list(range(PARTITIONS))
        and all(len(names) == 1 for names in table.values())
        and max(counts) - min(counts) <= 1
    )


def group_state(broker: BrokerProcess) -> dict[str, Any]:
    status, body = broker.get(f"/groups/{GROUP}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def produce(broker: BrokerProcess, events: int, *, chunk: int = 500) -> None:
    async with WebSocketBusClient(broker.url) as bus:
        for start in range(0, events, chunk):
            await asyncio.gather(
                *(
                    bus.publish(TOPIC, {"seq": seq}, key=f"k{seq % KEYS}")
                    for seq in range(start, min(events, start + chunk))
                )
            )
            await asyncio.sleep(0.02)


SCALING_SESSION_TIMEOUT_MS = 8_000
"""Nobody is killed while scaling: a session long enough that a member whose
heartbeats a loaded machine delays is not removed (a removed member keeps
handling what it holds, as a zombie, which breaks per-key order)."""


async def test_scaling_1_3_2_loses_nothing_and_keeps_key_order(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process(
        {**BROKER_ENV, "PROMETHEAN_SESSION_TIMEOUT_MS": str(SCALING_SESSION_TIMEOUT_MS)}
    )
    first = worker_process(broker, WORKER_ENV, name="w0")
    await wait_until(lambda: len(owned(first)) == PARTITIONS, 20, "w0 to own everything")
    producer = asyncio.create_task(produce(broker, EVENTS))
    workers = [first]

    def handled() -> int:
        return len({(r.partition, r.offset) for w in workers for r in w.records()})

    await wait_until(lambda: handled() >= 2_000, 60, "2,000 events handled by one worker")
    workers += [worker_process(broker, WORKER_ENV, name=f"w{n}") for n in (1, 2)]
    await wait_until(lambda: settled(workers), 30, "3 workers to share the partitions")

    await wait_until(lambda: handled() >= 8_000, 60, "8,000 events handled")
    leaving = workers[2]
    leaving.signal(signal.SIGTERM)
    assert await asyncio.to_thread(leaving.wait_exit, 15) == 0, leaving.log_tail()
    await wait_until(lambda: settled(workers[:2]), 30, "2 workers to share the partitions")

    await producer
    await wait_until(lambda: handled() >= EVENTS, 90, "every event to be handled")

    result = analyse([r for w in workers for r in w.records()])
    rebalances = sum(
        body["topics"][TOPIC]["rebalances"]
        for body in (w.get("/assignment")[1] for w in workers[:2])
    )
    print(
        f"\nscale 1→3→2: {result.records} handlings of {result.unique} events, "
        f"{result.duplicates} duplicates, {rebalances} assignment changes on the survivors"
    )
    removed = [line for line in broker.log_tail(100_000).splitlines() if "removing member" in line]
    assert removed == [], "a member's session expired while scaling"
    assert result.unique == EVENTS
    assert {r.seq for w in workers for r in w.records()} == set(range(EVENTS))
    assert result.order_violations == [], result.order_violations[:5]
    assert result.duplicates <= 3 * 256, "duplicates only for what was in flight at a revoke"
    assert all(len(w.records()) > 0 for w in workers)
    log = group_state(broker)["log"]
    assert len({entry["generation"] for entry in log}) >= 3, "1 → 3 → 2 makes generations"
    assert_exclusive(log)


async def test_a_killed_member_loses_its_partitions_after_the_session_timeout(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    broker = broker_process(BROKER_ENV)
    await produce(broker, 120)  # creates the topic with its 12 partitions
    workers = [worker_process(broker, WORKER_ENV, name=f"w{n}") for n in range(3)]
    await wait_until(lambda: settled(workers), 30, "3 workers to share the partitions")
    victim = workers[2]
    orphaned = owned(victim)
    generation = group_state(broker)["generation"]

    victim.kill()
    killed = time.monotonic()
    await wait_until(lambda: settled(workers[:2]), 30, "the survivors to take over")
    moved_after = time.monotonic() - killed
    print(f"\nkill: partitions owned again {moved_after:.2f}s after SIGKILL")
    # The session runs from the victim's last heartbeat, up to a few heartbeat
    # intervals before the kill on a busy machine; a lost connection alone
    # moves nothing.
    earliest_s = (SESSION_TIMEOUT_MS - 3 * HEARTBEAT_MS) / 1000
    assert moved_after >= earliest_s, "moved before the session ended"
    assert moved_after <= SESSION_TIMEOUT_MS / 1000 + 10
    assert orphaned <= set(owners(workers[:2]))
    state = group_state(broker)
    assert state["generation"] > generation
    assert len(state["members"]) == 2

    await produce(broker, 240)
    await wait_until(
        lambda: len({(r.partition, r.offset) for w in workers for r in w.records()}) >= 360,
        30,
        "events of the orphaned partitions to be handled",
    )


RESTART_SESSION_TIMEOUT_MS = 8_000
"""Room for a worker process to start again (about a second, more on a busy machine)."""


async def test_a_restart_with_the_same_instance_id_keeps_the_partitions(
    broker_process: BrokerFactory, worker_process: WorkerFactory
) -> None:
    timeout_s = RESTART_SESSION_TIMEOUT_MS / 1000
    broker = broker_process(
        {**BROKER_ENV, "PROMETHEAN_SESSION_TIMEOUT_MS": str(RESTART_SESSION_TIMEOUT_MS)}
    )
    await produce(broker, 120)
    workers = [worker_process(broker, WORKER_ENV, name=f"w{n}") for n in range(3)]
    await wait_until(lambda: settled(workers), 30, "3 workers to share the partitions")
    before = {w.name: owned(w) for w in workers}
    generation = group_state(broker)["generation"]
    survivors_changes = [
        w.get("/assignment")[1]["topics"][TOPIC]["rebalances"] for w in workers[:2]
    ]

    restarted = workers[2]
    restarted.kill()
    killed = time.monotonic()
    restarted.start()  # same name, so the same PROMETHEAN_INSTANCE_ID
    await wait_until(lambda: owned(restarted) == before["w2"], timeout_s, "w2 back")
    back_after = time.monotonic() - killed
    print(f"\nrestart: w2 owned its partitions again {back_after:.2f}s after SIGKILL")
    assert back_after < timeout_s

    await asyncio.sleep(max(0.0, timeout_s - back_after) + 1.0)  # past the old session's end
    assert {w.name: owned(w) for w in workers} == before
    assert group_state(broker)["generation"] == generation
    assert [
        w.get("/assignment")[1]["topics"][TOPIC]["rebalances"] for w in workers[:2]
    ] == survivors_changes
