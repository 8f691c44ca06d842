"""Partitioned groups across brokers: three brokers on one SQLite file, a
topic of 12 partitions, a partitioned group of three SDK members (each
first connected to a different broker) and a shared group. Every member
JOINs at the group's coordinator and FETCHes its other partitions from
their owners; every acknowledged event is consumed by both groups, in
order per partition within a member's generation, and the partitioned
group's commits advance on every partition."""

from __future__ import annotations

import asyncio

import pytest

from promethean.client.partitioned import PartitionedSubscription
from tests.crash.support import opened
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.cluster import (
    SETTLE_TIMEOUT_S,
    Owners,
    assert_fenced_history,
    by_id,
    start_cluster,
    wait_settled,
)
from tests.fixtures.cluster_groups import (
    Publishing,
    assert_commits_advanced,
    consuming_groups,
    publish_keyed,
)
from tests.fixtures.wire import WireClient

TOPIC = "orders"
GROUP = "fulfil"
PARTITIONS = 12


async def test_partitioned_members_fetch_from_every_owner(broker_process: BrokerFactory) -> None:
    await consume_across(start_cluster(broker_process, 3))


@pytest.mark.mongo
async def test_partitioned_members_fetch_from_every_owner_on_mongodb(
    broker_process: BrokerFactory, mongo_store_url: str
) -> None:
    """The MongoDB leg (FerretDB here), two brokers, both groups. No broker
    dies here, so no two brokers race for one grant (FerretDB's conditional
    updates are not atomic across connections; see tests/unit/store/racing.py)."""
    await consume_across(start_cluster(broker_process, 2, store_url=mongo_store_url))


async def consume_across(brokers: list[BrokerProcess]) -> None:
    """Both groups consume every event keyed publishers sent through
    each broker; the partitioned group's members fetch from every owner."""
    assert brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(
        brokers[0].store_url, TOPIC, PARTITIONS, by_id(brokers), SETTLE_TIMEOUT_S
    )
    urls = [b.url for b in brokers]

    async with consuming_groups(urls, TOPIC, GROUP, 3) as (consumption, members):
        batches = await asyncio.gather(
            *(publish_keyed(url, TOPIC, PARTITIONS, f"c{i}", 5) for i, url in enumerate(urls))
        )
        acked = set().union(*batches)
        assert len(acked) == len(urls) * 5 * PARTITIONS
        await consumption.wait_for(acked)
        assigned = [set(m.assigned) for m in members]
        assert set().union(*assigned) == set(range(PARTITIONS)), assigned
        assert sum(len(a) for a in assigned) == PARTITIONS, "each partition to one member"
        consumption.assert_ordered()
        await owners_refuse_bad_fetches(by_id(brokers), owners, members[0])
        async with opened(brokers[0].store_url) as store:
            await assert_commits_advanced(store, GROUP, TOPIC, PARTITIONS)
            await assert_fenced_history(store, TOPIC, PARTITIONS)


async def test_scaling_one_to_three_to_two_with_a_partitioned_group_consuming(
    broker_process: BrokerFactory,
) -> None:
    """Graceful moves under load: after each step ownership is balanced,
    and both groups consume every acknowledged event."""
    (first,) = start_cluster(broker_process, 1)
    assert first.post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    await wait_settled(first.store_url, TOPIC, PARTITIONS, ["b0"], SETTLE_TIMEOUT_S)

    async with consuming_groups([first.url], TOPIC, GROUP, members=2) as (consumption, members):
        publishing = Publishing(first.url, TOPIC, PARTITIONS, "scale")
        await consumption.wait_for({f"scale-0-{p}" for p in range(PARTITIONS)})
        env = {"PROMETHEAN_LEASE_TTL_MS": first.env["PROMETHEAN_LEASE_TTL_MS"]}
        more = [
            broker_process({**env, "PROMETHEAN_BROKER_ID": f"b{i}"}, store_url=first.store_url)
            for i in (1, 2)
        ]
        await wait_settled(
            first.store_url, TOPIC, PARTITIONS, by_id([first, *more]), SETTLE_TIMEOUT_S
        )
        await publishing.rounds_past(publishing.rounds + 3)
        assert more[1].terminate() == 0
        await wait_settled(
            first.store_url, TOPIC, PARTITIONS, by_id([first, more[0]]), SETTLE_TIMEOUT_S
        )
        await publishing.rounds_past(publishing.rounds + 3)
        acked = await publishing.stop()
        await consumption.wait_for(acked)
        assigned = [set(m.assigned) for m in members]
        assert set().union(*assigned) == set(range(PARTITIONS)), assigned
        assert abs(len(assigned[0]) - len(assigned[1])) <= 1, "balanced"

    async with opened(first.store_url) as store:
        found = await store.find_ids(TOPIC, list(acked))
        assert set(found) == acked, "nothing lost"
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def owners_refuse_bad_fetches(
    brokers: dict[str, BrokerProcess], owners: Owners, member: PartitionedSubscription
) -> None:
    """FETCH from a non-owner, of an old generation, or of a partition the
    member was not assigned is refused with its code."""
    mine = min(member.assigned)
    other = min(set(range(PARTITIONS)) - set(member.assigned))
    owner, _ = owners[(TOPIC, mine)]
    stranger = next(b for b in brokers if b != owner)
    fetch = {
        "type": "FETCH",
        "topic": TOPIC,
        "group": GROUP,
        "member_id": member.member_id,
        "generation": member.generation,
    }
    async with await WireClient.connect(brokers[stranger].url) as client:
        refused = await client.request({**fetch, "partitions": [mine]})
    assert (refused["code"], refused["owner"]["id"]) == ("not_owner", owner)
    other_owner, _ = owners[(TOPIC, other)]
    async with await WireClient.connect(brokers[other_owner].url) as client:
        refused = await client.request({**fetch, "partitions": [other]})
        assert refused["code"] == "stale_generation", refused
        refused = await client.request({**fetch, "generation": 0, "partitions": [other]})
        assert refused["code"] == "stale_generation", refused
