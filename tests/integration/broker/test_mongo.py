"""The core broker guarantees on the MongoDB store (FerretDB locally, a
MongoDB replica set in CI): durable publish across SIGKILL, idempotent ids,
dense offsets, and a group resuming from its committed offset."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.crash.support import check_log, opened
from tests.fixtures.broker import BrokerFactory
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import (
    committed,
    drain,
    eventually,
    latest_offsets,
    publish_many,
)

pytestmark = pytest.mark.mongo

EVENTS = 120
PARTITIONS = 3


async def test_publish_is_durable_and_idempotent_across_sigkill(
    broker_process: BrokerFactory, mongo_store_url: str, connect: Connect, names: Names
) -> None:
    broker = broker_process(
        {"PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS)}, store_url=mongo_store_url
    )
    topic = names.topic()
    client = await connect(broker.url)
    ids = [f"m{i}" for i in range(EVENTS)]
    replies = await publish_many(client, topic, ids, window=50)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for reply in replies:
        by_partition[reply["partition"]].append(reply["offset"])
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))
    assert latest_offsets(broker, topic) == {p: len(o) - 1 for p, o in by_partition.items()}

    broker.kill()
    await client.close()
    broker.restart()

    again = await connect(broker.url)
    replayed = await publish_many(again, topic, ids, window=50)
    for first, second in zip(replies, replayed, strict=True):
        assert second["duplicate"] is True
        assert (second["partition"], second["offset"]) == (first["partition"], first["offset"])
    fresh = await again.publish(topic, {"after": "restart"}, id="m-new")
    assert fresh["offset"] == len(by_partition[fresh["partition"]]), "dense after restart"

    acked = {r["id"]: (r["partition"], r["offset"]) for r in [*replies, fresh]}
    async with opened(mongo_store_url) as store:
        assert await check_log(store, topic, PARTITIONS, acked) == EVENTS + 1


async def test_group_resumes_from_its_commit_after_sigkill(
    broker_process: BrokerFactory, mongo_store_url: str, connect: Connect, names: Names
) -> None:
    broker = broker_process(
        {"PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS)}, store_url=mongo_store_url
    )
    topic, group = names.topic(), names.group()
    client = await connect(broker.url)
    ids = [f"m{i}" for i in range(EVENTS)]
    await publish_many(client, topic, ids, window=50)

    await client.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=60_000)
    first_part = await drain(client, EVENTS // 2)
    await client.ping()
    await eventually(
        lambda: sum(o + 1 for o in committed(broker, topic, group).values()),
        lambda done: done == len(first_part),
        within=10,
    )
    commits = committed(broker, topic, group)

    broker.kill()
    await client.close()
    broker.restart()

    again = await connect(broker.url)
    await again.subscribe(topic, group, ack_timeout_ms=60_000)
    rest = await drain(again, EVENTS - len(first_part), within=10)
    firsts: dict[int, int] = {}
    for message in rest:
        firsts.setdefault(message["partition"], message["offset"])
    for partition, first in firsts.items():
        assert first == commits.get(partition, -1) + 1, "resumes right after the commit"
    assert {m["envelope"]["id"] for m in first_part + rest} == set(ids)
    await again.no_message(0.5)
