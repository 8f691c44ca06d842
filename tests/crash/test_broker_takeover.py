"""Every broker is active and owns a share of the partitions: when one is
killed, the others own its partitions again within the lease TTL plus one
pass, with nothing acknowledged lost; one paused past its lease is fenced
when it resumes, and stays up as a follower of the new assignment."""

from __future__ import annotations

import asyncio
import os
import signal

from promethean.client import ClientConfig, WebSocketBusClient
from tests.crash.support import opened
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.cluster import (
    CLUSTER_TTL_MS,
    SETTLE_TIMEOUT_S,
    Owners,
    assert_fenced_history,
    by_id,
    key_for,
    start_cluster,
    wait_settled,
)
from tests.fixtures.cluster_groups import (
    Publishing,
    assert_commits_advanced,
    consuming_groups,
)
from tests.fixtures.wire import WireClient

TOPIC = "handover"
PARTITIONS = 12
TAKEOVER_MARGIN_S = 10.0
"""One ownership pass and start-up on a loaded 2-core machine; generous
(bench/rebalance.py measures the real figure)."""


async def publish_to_owners(
    brokers: dict[str, BrokerProcess], owners: Owners, prefix: str, per_partition: int
) -> dict[str, tuple[int, int]]:
    """Publish ``per_partition`` events to every partition through its
    owner; id → (partition, offset) of every acknowledged one."""
    acked: dict[str, tuple[int, int]] = {}
    for partition in range(PARTITIONS):
        owner, _ = owners[(TOPIC, partition)]
        key = key_for(partition, PARTITIONS)
        async with await WireClient.connect(brokers[owner].url) as client:
            for i in range(per_partition):
                event_id = f"{prefix}-{partition}-{i}"
                reply = await client.publish(TOPIC, {"i": i}, key=key, id=event_id)
                acked[event_id] = (reply["partition"], reply["offset"])
    return acked


async def test_a_killed_brokers_partitions_are_owned_again(
    broker_process: BrokerFactory, cluster_store: str | None
) -> None:
    brokers = start_cluster(broker_process, 3, cluster_store)
    named = by_id(brokers)
    assert brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, named, SETTLE_TIMEOUT_S)
    acked = await publish_to_owners(named, owners, "before", 3)

    named["b2"].kill()
    survivors = {"b0": named["b0"], "b1": named["b1"]}
    budget = CLUSTER_TTL_MS / 1000 + TAKEOVER_MARGIN_S
    owners, took = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, survivors, budget)
    assert took < budget
    acked |= await publish_to_owners(survivors, owners, "after", 2)

    async with opened(brokers[0].store_url) as store:
        found = await store.find_ids(TOPIC, list(acked))
        assert {i: tuple(p) for i, p in found.items()} == acked, "nothing lost"
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def test_a_partitioned_group_loses_nothing_when_its_coordinator_is_killed(
    broker_process: BrokerFactory,
) -> None:
    """SIGKILL of the broker owning partition 0 (the group's coordinator)
    mid-stream: its partitions are owned again within the TTL plus one pass,
    the members JOIN at the new coordinator, and both groups consume every
    acknowledged event."""
    brokers = start_cluster(broker_process, 3)
    named = by_id(brokers)
    assert brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, named, SETTLE_TIMEOUT_S)
    victim, _ = owners[(TOPIC, 0)]
    survivors = {b: p for b, p in named.items() if b != victim}
    urls = [p.url for p in survivors.values()]

    async with consuming_groups(urls, TOPIC, "takeover", members=2) as (consumption, members):
        publishing = Publishing(urls[0], TOPIC, PARTITIONS, "live")
        await consumption.wait_for({f"live-0-{p}" for p in range(PARTITIONS)})
        named[victim].kill()
        budget = CLUSTER_TTL_MS / 1000 + TAKEOVER_MARGIN_S
        _, took = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, survivors, budget)
        assert took < budget
        await publishing.rounds_past(publishing.rounds + 3)
        acked = await publishing.stop()
        await consumption.wait_for(acked)
        assigned = [set(m.assigned) for m in members]
        assert set().union(*assigned) == set(range(PARTITIONS)), assigned
        # While the members are still there: an event handled under a
        # generation that moved on is delivered again, then committed.
        async with opened(brokers[0].store_url) as store:
            await assert_commits_advanced(store, "takeover", TOPIC, PARTITIONS)

    async with opened(brokers[0].store_url) as store:
        found = await store.find_ids(TOPIC, list(acked))
        assert set(found) == acked, "nothing lost"
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def test_a_paused_broker_is_fenced_when_it_resumes(broker_process: BrokerFactory) -> None:
    brokers = start_cluster(broker_process, 2)
    named = by_id(brokers)
    assert brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, named, SETTLE_TIMEOUT_S)
    paused = named["b1"]
    partition = next(p for (t, p), (b, _) in sorted(owners.items()) if t == TOPIC and b == "b1")
    zombie_client = await WireClient.connect(paused.url)
    os.kill(paused.pid, signal.SIGSTOP)
    try:
        await wait_settled(
            brokers[0].store_url,
            TOPIC,
            PARTITIONS,
            {"b0": named["b0"]},
            CLUSTER_TTL_MS / 1000 + TAKEOVER_MARGIN_S,
        )
        # Sent while the broker is frozen: it reads this only on waking.
        reply = zombie_client.expect("zombie")
        await zombie_client.send(
            {
                "type": "PUBLISH",
                "topic": TOPIC,
                "key": key_for(partition, PARTITIONS),
                "payload": 1,
                "id": "zombie",
                "corr": "zombie",
            }
        )
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    try:
        answer = await asyncio.wait_for(reply, 10)
    finally:
        await zombie_client.close()
    assert answer["type"] == "ERR", f"a fenced broker acknowledged: {answer}"
    assert answer["code"] == "not_owner"

    assert paused.running, "a fenced broker stays up as a follower"
    paused.wait_for("/healthz/ready")
    async with opened(brokers[0].store_url) as store:
        assert await store.find_ids(TOPIC, ["zombie"]) == {}
        await assert_fenced_history(store, TOPIC, PARTITIONS)


async def test_a_publish_waiting_on_a_killed_broker_goes_to_the_next_owner(
    broker_process: BrokerFactory,
) -> None:
    """A publish-only client: publishes queued for a broker that died are
    sent to its partitions' next owner once the routes name it, well before
    the publish timeout, and stored once."""
    brokers = start_cluster(broker_process, 2)
    named = by_id(brokers)
    assert brokers[0].post("/topics", {"name": TOPIC, "partitions": PARTITIONS})[0] in (200, 201)
    owners, _ = await wait_settled(brokers[0].store_url, TOPIC, PARTITIONS, named, SETTLE_TIMEOUT_S)
    partition = next(p for (t, p), (b, _) in sorted(owners.items()) if t == TOPIC and b == "b1")
    key = key_for(partition, PARTITIONS)
    config = ClientConfig(stop_grace_s=1.0, request_timeout_s=10.0, publish_timeout_s=60.0)
    async with WebSocketBusClient(named["b0"].url, config) as bus:
        before = await bus.publish(TOPIC, {"n": 0}, key=key, id="stranded-0")
        assert before.partition == partition
        named["b1"].kill()
        loop = asyncio.get_running_loop()
        started = loop.time()
        after = await asyncio.gather(
            *(bus.publish(TOPIC, {"n": n}, key=key, id=f"stranded-{n}") for n in range(1, 6))
        )
        took = loop.time() - started
    budget = CLUSTER_TTL_MS / 1000 + TAKEOVER_MARGIN_S
    assert took < budget, f"the stranded publishes took {took:.1f}s"
    assert {r.partition for r in after} == {partition}
    async with opened(brokers[0].store_url) as store:
        found = await store.find_ids(TOPIC, [f"stranded-{n}" for n in range(6)])
        assert len(found) == 6, "each stored once"
        await assert_fenced_history(store, TOPIC, PARTITIONS)
