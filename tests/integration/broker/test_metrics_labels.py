"""The broker's metrics on the user's path: lag stays visible when every
consumer of a group is gone, ``promethean_group_members`` says so, NACK
reasons never become labels, and label sets per metric are capped."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import drain, eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(broker: BrokerProcess) -> Samples:
    status, text = broker.get("/metrics")
    assert status == 200, text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def matching(samples: Samples, name: str, pred: Callable[[dict[str, str]], bool]) -> list[float]:
    return [v for (n, ls), v in samples.items() if n == name and pred(dict(ls))]


async def test_lag_of_a_group_stays_exported_after_its_last_consumer_left(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process({"PROMETHEAN_LAG_REFRESH_MS": "200"})
    topic, group = names.topic(), names.group()
    assert broker.post("/topics", {"name": topic, "partitions": 1})[0] == 201
    producer = await connect(broker.url)
    consumer = await connect(broker.url)
    await consumer.subscribe(topic, group, from_={"kind": "earliest"})
    for n in range(5):
        await producer.publish(topic, {"n": n})
    await drain(consumer, 5)
    live = await eventually(
        lambda: scrape(broker),
        lambda s: (
            value(s, "promethean_committed_offset", topic=topic, group=group, partition="0") == 4
        ),
    )
    assert value(live, "promethean_group_members", topic=topic, group=group) == 1
    await consumer.close()
    for n in range(20):
        await producer.publish(topic, {"n": n})

    def dead(s: Samples) -> bool:
        lag = value(s, "promethean_consumer_lag", topic=topic, group=group, partition="0")
        return lag == 20

    samples = await eventually(lambda: scrape(broker), dead, within=10)
    assert value(samples, "promethean_group_members", topic=topic, group=group) == 0
    assert value(samples, "promethean_lag_groups_omitted") == 0
    status, body = broker.get(f"/lag?topic={topic}&group={group}")
    assert (status, body["lag"]) == (200, 20)
    # Publishing more moves the exported lag at once, between refreshes.
    await producer.publish(topic, {"n": 99})
    await eventually(
        lambda: value(
            scrape(broker), "promethean_consumer_lag", topic=topic, group=group, partition="0"
        ),
        lambda lag: lag == 21,
    )


async def test_offline_groups_beyond_the_cap_are_counted_as_omitted(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process(
        {"PROMETHEAN_LAG_REFRESH_MS": "200", "PROMETHEAN_LAG_OFFLINE_GROUPS_MAX": "2"}
    )
    topic = names.topic()
    assert broker.post("/topics", {"name": topic, "partitions": 1})[0] == 201
    producer = await connect(broker.url)
    await producer.publish(topic, {"n": 0})
    groups = [names.group() for _ in range(5)]
    for group in groups:
        consumer = await connect(broker.url)
        await consumer.subscribe(topic, group, from_={"kind": "earliest"})
        await drain(consumer, 1)
        await eventually(
            lambda g=group: broker.get(f"/cursors?topic={topic}")[1]["groups"],
            lambda rows, g=group: any(r["group"] == g and r["partitions"] for r in rows),
        )
        await consumer.close()
    samples = await eventually(
        lambda: scrape(broker),
        lambda s: value(s, "promethean_lag_groups_omitted") == 3,
        within=10,
    )
    exported = matching(samples, "promethean_group_members", lambda ls: ls.get("topic") == topic)
    assert exported == [0, 0]


async def test_nack_reasons_are_classified_and_never_become_labels(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, from_={"kind": "earliest"})
    await client.publish(topic, {"n": 1})
    secrets = [f"user {n} failed: card 4111-{n:04d}" for n in range(3)]
    for reason in secrets:
        message = await client.next_message()
        await client.nack(message, reason)
    await drain(client, 1)
    samples = await eventually(
        lambda: scrape(shared_broker),
        lambda s: (
            value(s, "promethean_redelivered_total", topic=topic, group=group, reason="nack") == 3
        ),
    )
    reasons = {dict(ls).get("reason") for (n, ls) in samples if n == "promethean_redelivered_total"}
    assert reasons <= {
        "nack",
        "ack_timeout",
        "disconnected",
        "unsubscribed",
        "slow_consumer",
        "other",
    }, reasons


async def test_label_sets_beyond_the_cap_fold_into_other_and_are_counted(
    broker_process: BrokerFactory, connect: Connect, names: Names
) -> None:
    broker = broker_process(
        {"PROMETHEAN_METRICS_MAX_LABEL_SETS": "3", "PROMETHEAN_SYSTEM_METRICS_MS": "0"}
    )
    client = await connect(broker.url)
    topics = [names.topic() for _ in range(6)]
    for topic in topics:
        await client.publish(topic, {"n": 1})
    samples = scrape(broker)
    published = matching(samples, "promethean_published_total", lambda ls: True)
    assert len(published) == 4, "three topics and _other"
    assert value(samples, "promethean_published_total", topic="_other") == 3
    assert value(samples, "promethean_metric_label_overflow_total", metric="published") == 3
