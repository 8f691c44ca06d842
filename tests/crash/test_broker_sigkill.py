"""Invariants 1, 2, 3 and 5 across SIGKILL: publish while the broker is
killed at a random moment, restart it on the same SQLite file, and check
that every acknowledged publish is stored exactly once at the promised
position, offsets stay dense, and a consumer group resumes from its
committed offset having seen every event at least once."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.crash.support import AckLedger, Auditor, check_log, durable_commits, opened
from tests.fixtures.broker import BrokerFactory

EVENTS_PER_ROUND = 10_000
ROUNDS = 5
SOAK_ROUNDS = 100
PARTITIONS = 4
TOPIC = "crash.orders"
GROUP = "auditors"


async def sigkill_rounds(broker_process: BrokerFactory, rounds: int, seed: int) -> None:
    print(f"seed={seed}")  # shown with a failure, to replay the kill times
    rng = random.Random(seed)
    # A stable broker id (a StatefulSet pod name) lets the restarted process
    # take its own lease back at once instead of waiting out the TTL.
    broker = broker_process(
        {"PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS), "PROMETHEAN_BROKER_ID": "broker-0"}
    )
    ledger = AckLedger()
    auditor = Auditor(TOPIC, GROUP)
    last_commits: dict[int, int] = {}
    resumed_checks = 0

    for round_no in range(rounds):
        ids = [f"r{round_no}-{i}" for i in range(EVENTS_PER_ROUND)]
        stop = asyncio.Event()
        consumer = asyncio.create_task(auditor.consume(broker.url, stop))
        publisher = asyncio.create_task(ledger.publish(broker.url, TOPIC, ids))
        # Kill at a random point of the round's progress, not of its time.
        await ledger.wait_acked(len(ledger.acked) + rng.randrange(EVENTS_PER_ROUND), publisher)
        broker.kill()
        unacked = await publisher
        await consumer
        print(f"round {round_no}: {len(unacked)} of {len(ids)} unacknowledged at the kill")

        # While the broker is dead: what did the group durably commit?
        async with opened(broker.store_url) as store:
            commits = await durable_commits(store, GROUP, TOPIC)
        for partition, offset in last_commits.items():
            assert commits.get(partition, -1) >= offset, "a commit moved backwards"
        last_commits = commits

        broker.restart()
        stop = asyncio.Event()
        consumer = asyncio.create_task(auditor.consume(broker.url, stop))
        # Whatever lacked an acknowledgement is sent again under the same id.
        left = await ledger.publish(broker.url, TOPIC, unacked)
        assert left == [], f"round {round_no}: {len(left)} publishes failed on a live broker"
        await asyncio.sleep(0.3)
        stop.set()
        firsts = await consumer
        for partition, first in firsts.items():
            # The group resumes right after its committed offset.
            assert first == commits.get(partition, -1) + 1, (round_no, partition, first, commits)
            resumed_checks += 1

    everything = {f"r{r}-{i}" for r in range(rounds) for i in range(EVENTS_PER_ROUND)}
    assert set(ledger.acked) == everything
    assert resumed_checks > 0, "the auditor never resumed after a crash"

    # Drain the rest: the group sees every acknowledged event at least once.
    stop = asyncio.Event()
    consumer = asyncio.create_task(auditor.consume(broker.url, stop))
    await auditor.wait_seen(everything, within=60)
    stop.set()
    await consumer
    missing = everything - auditor.seen
    assert not missing, f"{len(missing)} events never reached the group, e.g. {sorted(missing)[:5]}"

    assert broker.terminate() == 0
    async with opened(broker.store_url) as store:
        stored = await check_log(store, TOPIC, PARTITIONS, ledger.acked)
    assert stored == len(everything), "only published ids are stored"
    print(
        f"{resumed_checks} resumptions checked, {ledger.duplicates} re-sent ids were already"
        f" durable, {auditor.deliveries} deliveries for {len(everything)} events"
    )


async def test_sigkill_during_publish(broker_process: BrokerFactory) -> None:
    await sigkill_rounds(broker_process, ROUNDS, seed=random.randrange(1 << 30))


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_sigkill_during_publish_soak(broker_process: BrokerFactory) -> None:
    await sigkill_rounds(broker_process, SOAK_ROUNDS, seed=random.randrange(1 << 30))
