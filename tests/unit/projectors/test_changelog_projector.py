"""The changelog projector: a keyed topic materialized into a store view,
tombstones delete, redelivery changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from promethean.errors import SettingsError
from promethean.projectors.changelog import ChangelogProjector, parse_views, project
from promethean.projectors.contract import HandlerContext
from promethean.projectors.heartbeat import STATE_TOPIC, HeartbeatProjector
from promethean.runtime.heartbeat import HEARTBEAT_TOPIC
from promethean.store.memory import MemoryStore
from promethean.store.port import Store
from promethean.testing import InMemoryBroker
from tests.unit.projectors.support import SETTINGS, beat, key_of


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    opened = MemoryStore("memory://changelog-tests")
    await opened.open()
    yield opened
    await opened.close()


async def materialized(store: MemoryStore, view: str) -> dict[str, Any]:
    return {row.key: row.value for row in await store.view_list(view)}


async def test_events_upsert_and_tombstones_delete(bus: InMemoryBroker, store: MemoryStore) -> None:
    projector = ChangelogProjector(store, {"orders": "orders_view"})
    await bus.subscribe("orders", "changelog", projector.handle)
    await bus.publish("orders", {"total": 1}, key="a")
    await bus.publish("orders", {"total": 2}, key="b")
    await bus.publish("orders", {"total": 3}, key="a")
    assert await materialized(store, "orders_view") == {"a": {"total": 3}, "b": {"total": 2}}

    await bus.publish("orders", None, key="a")
    assert await materialized(store, "orders_view") == {"b": {"total": 2}}
    assert await store.view_get("orders_view", "a") is None
    assert projector.applied == 4


async def test_redelivery_of_old_events_changes_nothing(
    bus: InMemoryBroker, store: MemoryStore
) -> None:
    projector = ChangelogProjector(store, {"orders": "orders"})
    received = bus.recording_subscriber()

    async def keep_and_project(message):  # type: ignore[no-untyped-def]
        await received(message)
        await projector.handle(message)

    await bus.subscribe("orders", "changelog", keep_and_project)
    await bus.publish("orders", {"v": 1}, key="k")
    await bus.publish("orders", None, key="k")
    await bus.publish("orders", {"v": 3}, key="other")
    before = await materialized(store, "orders")

    for message in received.messages:  # the whole log delivered again
        await projector.handle(message)
    assert await materialized(store, "orders") == before == {"other": {"v": 3}}
    assert projector.skipped == 3, "every replayed event was refused by offset"


async def test_events_without_a_key_are_skipped(bus: InMemoryBroker, store: MemoryStore) -> None:
    projector = ChangelogProjector(store, {"orders": "orders"})
    await bus.subscribe("orders", "changelog", projector.handle)
    await bus.publish("orders", {"v": 1})
    assert await materialized(store, "orders") == {}
    assert (projector.skipped, bus.counters.nacked) == (1, 0)


def test_views_default_and_can_be_renamed() -> None:
    assert parse_views({}, ("process.state", "orders.placed")) == {
        "process.state": "processes",
        "orders.placed": "orders_placed",
    }
    env = {"PROMETHEAN_CHANGELOG_VIEWS": "orders.placed=orders, process.state=procs"}
    assert parse_views(env, ("process.state", "orders.placed")) == {
        "process.state": "procs",
        "orders.placed": "orders",
    }


@pytest.mark.parametrize(
    "value",
    ["orders", "orders=", "=view", "orders=$where", "a=same,b=same"],
)
def test_bad_view_settings_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_CHANGELOG_VIEWS"):
        parse_views({"PROMETHEAN_CHANGELOG_VIEWS": value}, ("orders", "a", "b"))


async def test_heartbeats_end_up_in_the_processes_view(
    bus: InMemoryBroker, store: MemoryStore
) -> None:
    """heartbeat.received → heartbeat projector → process.state → changelog
    projector → view ``processes``, as the worker wires them."""

    async def open_store() -> Store:
        return store

    context = HandlerContext(
        bus=bus,
        clock=bus.clock,
        environ={},
        instance_id="w-0",
        heartbeat_ms=3_000,
        liveness_max_stall_ms=30_000,
        open_store=open_store,
    )
    changelog = await project.start(context, project.topics)
    heartbeats = HeartbeatProjector(bus, bus.clock, SETTINGS, instance_id="w-0")
    await bus.subscribe(STATE_TOPIC, "changelog", changelog.handle)
    await bus.subscribe(HEARTBEAT_TOPIC, "heartbeats", heartbeats.handle)

    for pid in (1, 2):
        record = beat(bus.clock.now_ms(), pid=pid)
        await bus.publish(HEARTBEAT_TOPIC, record, key=key_of(record))
    rows = await materialized(store, "processes")
    assert {key: row["status"] for key, row in rows.items()} == {
        "node-a:worker:1": "alive",
        "node-a:worker:2": "alive",
    }

    bus.clock.advance(SETTINGS.policy.dead_after_ms + 1)
    await heartbeats.sweep()
    assert {row["status"] for row in (await materialized(store, "processes")).values()} == {"dead"}
    bus.clock.advance(SETTINGS.policy.forget_after_ms)
    await heartbeats.sweep()
    assert await materialized(store, "processes") == {}
