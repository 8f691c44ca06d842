"""Default retention of system topics and DLQs (`DefaultRetention`)."""

from __future__ import annotations

from promethean.bus.topics import DefaultRetention, TopicRegistry
from promethean.store.memory import MemoryStore
from promethean.store.records import TopicConfig

DEFAULTS = DefaultRetention(system_ms=1_000, dlq_ms=2_000)


def test_system_topics_and_dlqs_get_their_defaults_and_user_topics_none() -> None:
    assert DEFAULTS.for_topic("heartbeat.received") == 1_000
    assert DEFAULTS.for_topic("system.bus.audit") == 1_000
    assert DEFAULTS.for_topic("orders.DLQ") == 2_000
    assert DEFAULTS.for_topic("orders") is None
    assert DefaultRetention().for_topic("system.metrics") is None


def test_an_explicit_retention_is_kept() -> None:
    config = TopicConfig(name="system.metrics", partitions=1, retention_events=10)
    assert DEFAULTS.apply(config) is config


async def test_topics_created_before_the_defaults_get_them_once(store: MemoryStore) -> None:
    await store.create_topic(TopicConfig(name="heartbeat.received", partitions=1))
    await store.create_topic(TopicConfig(name="orders", partitions=1))
    await store.create_topic(TopicConfig(name="orders.DLQ", partitions=1, retention_ms=5))
    registry = TopicRegistry(store, 1, 5, DEFAULTS)
    assert await registry.backfill_retention() == ["heartbeat.received"]
    stored = {t.name: t.retention_ms for t in await store.list_topics()}
    assert stored == {"heartbeat.received": 1_000, "orders": None, "orders.DLQ": 5}
    assert await registry.backfill_retention() == []
