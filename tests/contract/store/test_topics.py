"""Topic configurations: create-if-absent, partitions grow but never shrink."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from promethean.store import Store, TopicConfig
from promethean.store.records import Cleanup


def config(name: str, partitions: int = 4, **changes: Any) -> TopicConfig:
    return msgspec.structs.replace(
        TopicConfig(name=name, partitions=partitions, created_ms=123), **changes
    )


async def test_create_topic_stores_every_field(store: Store) -> None:
    full = config(
        "orders",
        8,
        max_attempts=9,
        cleanup=Cleanup.COMPACT_DELETE,
        retention_ms=86_400_000,
        retention_events=10_000,
        retention_force=True,
        tombstone_retention_ms=3_600_000,
        snapshot_every=500,
        compact_beyond_commits=True,
        validate=True,
    )

    assert await store.create_topic(full) == full
    stored = await store.get_topic_config("orders")

    assert stored == full
    assert stored is not None
    assert stored.cleanup is Cleanup.COMPACT_DELETE


async def test_create_topic_keeps_an_existing_config(store: Store) -> None:
    original = await store.create_topic(config("orders", 4))

    again = await store.create_topic(config("orders", 16, max_attempts=1))

    assert again == original
    assert await store.get_topic_config("orders") == original


async def test_put_topic_config_creates_and_updates(store: Store) -> None:
    created = await store.put_topic_config(config("orders", 2))
    updated = await store.put_topic_config(config("orders", 6, retention_ms=1_000))

    assert created == config("orders", 2)
    assert updated == config("orders", 6, retention_ms=1_000)
    assert await store.get_topic_config("orders") == updated


async def test_partitions_never_shrink(store: Store) -> None:
    await store.create_topic(config("orders", 6))

    with pytest.raises(ValueError):  # noqa: PT011 - the port fixes the type, not the text
        await store.put_topic_config(config("orders", 3, max_attempts=1))

    assert await store.get_topic_config("orders") == config("orders", 6)


async def test_list_topics_and_unknown_topic(store: Store) -> None:
    assert await store.list_topics() == []
    assert await store.get_topic_config("orders") is None
    for name in ["orders", "audit", "invoices.DLQ"]:
        await store.create_topic(config(name))

    listed = await store.list_topics()

    assert sorted(t.name for t in listed) == ["audit", "invoices.DLQ", "orders"]
    assert all(t == config(t.name) for t in listed)


async def test_put_topic_config_turns_validation_on_and_off(store: Store) -> None:
    await store.create_topic(config("orders", 2))

    on = await store.put_topic_config(config("orders", 2, validate=True))
    stored_on = await store.get_topic_config("orders")
    off = await store.put_topic_config(config("orders", 2, validate=False))
    stored_off = await store.get_topic_config("orders")

    assert on.validate is True
    assert stored_on is not None
    assert stored_on.validate is True
    assert off.validate is False
    assert stored_off is not None
    assert stored_off.validate is False
