"""Operator actions: rewinding a group, deleting a group, deleting a topic."""

from __future__ import annotations

from promethean.store import CommittedOffset, Store
from promethean.store.records import TopicConfig
from tests.contract.store.builders import event

TOPIC = "orders"


async def test_reset_moves_commits_backwards_and_keeps_the_generation(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 10, 1: 4}, generation=3)
    await store.add_attempts("billing", TOPIC, 0, [11, 12])

    result = await store.reset_commits("billing", TOPIC, {0: 2, 2: -1})

    assert result == {0: CommittedOffset(0, 2, 3), 2: CommittedOffset(2, -1, 0)}
    commits = await store.get_commits("billing", TOPIC)
    assert {p: c.offset for p, c in commits.items()} == {0: 2, 1: 4, 2: -1}
    assert await store.get_attempts("billing", TOPIC, 0, 0) == {}


async def test_delete_group_removes_only_that_group_on_that_topic(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 10})
    await store.commit("billing", "invoices", {0: 1})
    await store.commit("shipping", TOPIC, {0: 5})
    await store.add_attempts("billing", TOPIC, 0, [11])

    assert await store.delete_group("billing", TOPIC) is True
    assert await store.delete_group("billing", TOPIC) is False

    assert await store.get_commits("billing", TOPIC) == {}
    assert await store.get_attempts("billing", TOPIC, 0, 0) == {}
    assert await store.groups_for_topic(TOPIC) == ["shipping"]
    assert await store.get_commits("billing", "invoices") == {0: CommittedOffset(0, 1)}


async def test_delete_topic_removes_events_counters_config_and_commits(store: Store) -> None:
    await store.create_topic(TopicConfig(name=TOPIC, partitions=2))
    await store.create_topic(TopicConfig(name="invoices", partitions=1))
    await store.append(TOPIC, 1, [event("a"), event("b")])
    await store.append("invoices", 0, [event("c")])
    await store.commit("billing", TOPIC, {1: 1})

    assert await store.delete_topic(TOPIC) is True
    assert await store.delete_topic(TOPIC) is False

    assert await store.get_topic_config(TOPIC) is None
    assert await store.latest_offset(TOPIC, 1) == -1
    assert await store.read(TOPIC, 1, 0, 10) == []
    assert await store.groups_for_topic(TOPIC) == []
    again = await store.append(TOPIC, 1, [event("a")])
    assert (again[0].offset, again[0].duplicate) == (0, False)
    assert await store.latest_offset("invoices", 0) == 0
