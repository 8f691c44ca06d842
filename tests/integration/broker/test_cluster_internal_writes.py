"""The bus's own writes on three brokers sharing one SQLite file: a dead
letter whose ``<topic>.DLQ`` partition another broker owns, and the
``system.metrics`` records of every broker, are stored under the writing
broker's fence (on a partition of the topic that broker holds)."""

from __future__ import annotations

import asyncio
import json
import time

from promethean.partitioning import partition_for
from tests.crash.support import opened
from tests.fixtures.broker import BrokerFactory
from tests.fixtures.cluster import (
    SETTLE_TIMEOUT_S,
    Owners,
    assert_fenced_history,
    by_id,
    start_cluster,
    stored_events,
    wait_settled,
)
from tests.fixtures.wire import WireClient

TOPIC = "orders"
DLQ = "orders.DLQ"
METRICS = "system.metrics"
PARTITIONS = 12
SYSTEM_PARTITIONS = 4
"""PROMETHEAN_DEFAULT_PARTITIONS of the fast settings: system topics get it."""
GROUP = "billing"
WAIT_S = 20.0


def dead_letter_elsewhere(owners: Owners) -> tuple[str, int, str]:
    """(event id, its partition, its owner) for a keyless event published
    first on its partition whose dead letter hashes to a DLQ partition
    another broker owns."""
    for i in range(100_000):
        event_id = f"e{i}"
        partition = partition_for(None, event_id, PARTITIONS)
        owner = owners[(TOPIC, partition)][0]
        dlq_partition = partition_for(None, f"{GROUP}/{partition}/0/{event_id}", PARTITIONS)
        if owners[(DLQ, dlq_partition)][0] != owner:
            return event_id, partition, owner
    raise AssertionError("no event dead-letters across brokers")


async def test_a_dead_letter_is_stored_when_its_dlq_partition_is_owned_elsewhere(
    broker_process: BrokerFactory,
) -> None:
    brokers = start_cluster(broker_process, 3)
    named = by_id(brokers)
    for name in (TOPIC, DLQ):
        status, _ = brokers[0].post(
            "/topics", {"name": name, "partitions": PARTITIONS, "max_attempts": 2}
        )
        assert status in (200, 201)
    owners, _ = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, named, SETTLE_TIMEOUT_S)
    owners, _ = await wait_settled(brokers[0].store_url, DLQ, PARTITIONS, named, SETTLE_TIMEOUT_S)
    event_id, partition, owner = dead_letter_elsewhere(owners)

    async with await WireClient.connect(named[owner].url) as client:
        await client.subscribe(TOPIC, GROUP, ack_timeout_ms=60_000)
        published = await client.publish(TOPIC, {"job": 1}, id=event_id)
        assert (published["partition"], published["offset"]) == (partition, 0)
        for attempt in (1, 2):
            message = await client.next_message(within=WAIT_S)
            assert message["attempt"] == attempt
            await client.nack(message, reason="cannot bill")

        dead_id = f"{GROUP}/{partition}/0/{event_id}"
        async with opened(brokers[0].store_url) as store:
            deadline = time.monotonic() + WAIT_S
            while not (
                dead := [e for e in await stored_events(store, DLQ, PARTITIONS) if e.id == dead_id]
            ):
                assert time.monotonic() < deadline, "the dead letter was never stored"
                await asyncio.sleep(0.1)
            (letter,) = dead
            grants = {
                g.token: g.broker_id for g in await store.ownership_log(DLQ, letter.partition)
            }
            (row,) = await store.fence_tokens(
                DLQ, letter.partition, letter.offset, letter.offset + 1
            )
            assert grants[row[1]] == owner, "written under the dead-lettering broker's fence"
            assert letter.headers is not None
            assert letter.headers["x-dlq-original-id"] == event_id
            await assert_fenced_history(store, DLQ, PARTITIONS)
        await client.no_message(0.5)


async def test_every_broker_stores_its_metrics_records(broker_process: BrokerFactory) -> None:
    brokers = start_cluster(broker_process, 3, extra_env={"PROMETHEAN_SYSTEM_METRICS_MS": "200"})
    names = set(by_id(brokers))
    async with opened(brokers[0].store_url) as store:
        deadline = time.monotonic() + WAIT_S
        while True:
            records = await stored_events(store, METRICS, SYSTEM_PARTITIONS)
            seen = {json.loads(e.payload)["broker"] for e in records}
            if seen == names:
                break
            assert time.monotonic() < deadline, f"metrics only from {seen}"
            await asyncio.sleep(0.1)
        await assert_fenced_history(store, METRICS, SYSTEM_PARTITIONS)
