"""What only the MongoDB adapter does: capability probing, concerns,
indexes, the raw shape of stored documents, and appends from several store
instances that share one partition."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from pymongo import MongoClient
from pymongo.database import Database
from tests.fixtures.ferretdb import free_port
from tests.unit.store.racing import skip_without_atomic_updates

from promethean.errors import StoreUnavailableError
from promethean.store import NewEvent, NewOutboxRow
from promethean.store.mongo import MongoStore
from promethean.store.mongo.collections import INDEXES

NASTY_PAYLOAD = b'{"$gt": 1, "a.b": {"$where": "sleep(1)"}, "$set": [1, {"x.y": null}]}'
OPERATOR_TOPIC = '{"$gt": ""}'


def _event(event_id: str, payload: bytes = b"{}", **fields: Any) -> NewEvent:
    return NewEvent(id=event_id, ts=1_000, payload=payload, **fields)


def _raw(admin: MongoClient[dict[str, Any]], store_url: str) -> Database[dict[str, Any]]:
    return admin.get_database(urlsplit(store_url).path.lstrip("/"))


def _is_ferretdb(admin: MongoClient[dict[str, Any]]) -> bool:
    return "ferretdbVersion" in admin.admin.command("buildInfo")


@pytest.fixture
async def store(mongo_store_url: str) -> AsyncIterator[MongoStore]:
    opened = MongoStore(mongo_store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.mongo
async def test_open_probes_capabilities_and_logs_one_line(
    mongo_store_url: str,
    mongo_admin: MongoClient[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MongoStore(mongo_store_url)
    with caplog.at_level(logging.INFO, logger="promethean.store.mongo"):
        await store.open()
    try:
        lines = [r for r in caplog.records if r.name == "promethean.store.mongo"]
        assert len(lines) == 1
        line = lines[0].getMessage()
        caps = store.capabilities
        if _is_ferretdb(mongo_admin):
            assert (caps.transactions, caps.change_streams) == (False, False)
            assert lines[0].levelno == logging.WARNING
            assert "lacks transactions and change streams" in line
            assert "polling" in line
            assert "not atomic" in caps.detail
        else:
            hello = mongo_admin.admin.command("hello")
            assert caps.transactions == ("setName" in hello)
            assert caps.change_streams == ("setName" in hello)
        assert store.url in line
        assert caps.detail in line
    finally:
        await store.close()


@pytest.mark.mongo
async def test_capabilities_before_open_raise_a_typed_error(mongo_store_url: str) -> None:
    with pytest.raises(StoreUnavailableError, match="not open"):
        _ = MongoStore(mongo_store_url).capabilities


@pytest.mark.mongo
async def test_acknowledged_writes_use_majority_with_journal(store: MongoStore) -> None:
    for name in ("events", "counters", "outbox", "leases", "group_offsets"):
        collection = store.database.get_collection(name)
        assert collection.write_concern.document == {"w": "majority", "j": True}
        assert collection.read_concern.level == "majority"
    client_options = store.database.client.options
    assert client_options.retry_writes is True


@pytest.mark.mongo
async def test_open_creates_every_index_and_reopening_keeps_them(
    mongo_store_url: str, mongo_admin: MongoClient[dict[str, Any]]
) -> None:
    for _ in range(2):  # the second open must be a no-op for existing indexes
        store = MongoStore(mongo_store_url)
        await store.open()
        await store.close()

    raw = _raw(mongo_admin, mongo_store_url)
    for collection, models in INDEXES.items():
        existing = {
            tuple(key for key, _ in spec["key"]): bool(spec.get("unique", False))
            for spec in raw[collection].index_information().values()
        }
        for model in models:
            wanted = tuple(model.document["key"])
            assert existing.get(wanted) == bool(model.document.get("unique", False)), (
                collection,
                wanted,
            )
    events = {
        tuple(k for k, _ in spec["key"]): spec.get("unique", False)
        for spec in raw["events"].index_information().values()
    }
    assert events[("topic", "partition", "offset")] is True
    assert events[("topic", "id")] is True
    assert ("topic", "partition", "ts") in events
    assert ("topic", "key", "offset") in events


@pytest.mark.mongo
async def test_payload_and_names_are_stored_as_opaque_data(
    store: MongoStore, mongo_store_url: str, mongo_admin: MongoClient[dict[str, Any]]
) -> None:
    headers = {"$set": "a.b", "x.y": "$gt"}
    await store.append(
        OPERATOR_TOPIC, 0, [_event("$id.1", NASTY_PAYLOAD, key="$key.k", headers=headers)]
    )

    raw = _raw(mongo_admin, mongo_store_url)["events"].find_one({"topic": OPERATOR_TOPIC})
    assert raw is not None
    assert isinstance(raw["payload"], bytes)
    assert raw["payload"] == NASTY_PAYLOAD
    assert raw["topic"] == OPERATOR_TOPIC
    assert raw["key"] == "$key.k"
    assert raw["headers"] == [{"n": "$set", "v": "a.b"}, {"n": "x.y", "v": "$gt"}]
    assert not any(name.startswith("$") or "." in name for name in raw)

    [back] = await store.read(OPERATOR_TOPIC, 0, 0, 10, header=("$set", "a.b"))
    assert back.payload == NASTY_PAYLOAD
    assert back.headers == headers
    assert await store.read(OPERATOR_TOPIC, 0, 0, 10, header=("$set", "other")) == []


@pytest.mark.mongo
async def test_an_operator_shaped_topic_is_a_plain_string(store: MongoStore) -> None:
    await store.append("orders", 0, [_event("a"), _event("b")])
    await store.append(OPERATOR_TOPIC, 0, [_event("c")])

    assert [e.id for e in await store.read(OPERATOR_TOPIC, 0, 0, 10)] == ["c"]
    assert await store.count_events(OPERATOR_TOPIC) == 1
    assert await store.find_ids(OPERATOR_TOPIC, ["a", "b", "c"]) == {"c": (0, 0)}
    assert await store.latest_offset(OPERATOR_TOPIC, 0) == 0


@pytest.mark.mongo
async def test_view_values_are_bson_unless_their_keys_look_like_syntax(
    store: MongoStore, mongo_store_url: str, mongo_admin: MongoClient[dict[str, Any]]
) -> None:
    plain = {"state": "running", "pids": [1, 2], "nested": {"ok": True}}
    syntax = {"$gt": 1, "a.b": [{"$ne": None}]}
    assert await store.view_upsert("processes", "plain", plain, 1)
    assert await store.view_upsert("processes", "syntax", syntax, 2)

    raw = _raw(mongo_admin, mongo_store_url)["views"]
    stored_plain = raw.find_one({"view": "processes", "key": "plain"})
    stored_syntax = raw.find_one({"view": "processes", "key": "syntax"})
    assert stored_plain is not None
    assert stored_syntax is not None
    assert stored_plain["value"] == plain
    assert stored_syntax["value"] is None
    assert isinstance(stored_syntax["value_json"], str)

    got = {row.key: row.value for row in await store.view_list("processes")}
    assert got == {"plain": plain, "syntax": syntax}


@pytest.mark.mongo
async def test_two_store_instances_share_a_partition_with_dense_offsets(
    mongo_store_url: str,
) -> None:
    first, second = MongoStore(mongo_store_url), MongoStore(mongo_store_url)
    await first.open()
    await second.open()
    try:
        await first.append("orders", 0, [_event("a0"), _event("a1"), _event("a2")])
        await second.append("orders", 0, [_event("b0"), _event("b1")])
        # `first` still believes offset 3 is next: it collides, reloads, continues.
        results = await first.append("orders", 0, [_event("a3"), _event("b1"), _event("a4")])
        assert [(r.offset, r.duplicate) for r in results] == [(5, False), (4, True), (6, False)]

        async def publish(store: MongoStore, prefix: str) -> None:
            for batch in range(5):
                events = [_event(f"{prefix}-{batch}-{i}") for i in range(4)]
                await store.append("orders", 0, events)

        await asyncio.gather(publish(first, "x"), publish(second, "y"))

        stored = await first.read("orders", 0, 0, 1000)
        assert [e.offset for e in stored] == list(range(7 + 40))
        assert len({e.id for e in stored}) == len(stored)
        assert await second.latest_offset("orders", 0) == 46
    finally:
        await first.close()
        await second.close()


@pytest.mark.mongo
async def test_next_offset_survives_retention_and_a_fresh_instance(mongo_store_url: str) -> None:
    store = MongoStore(mongo_store_url)
    await store.open()
    await store.append("orders", 0, [_event(f"e{i}") for i in range(5)])
    assert await store.delete_below("orders", 0, 10) == 5
    await store.close()

    fresh = MongoStore(mongo_store_url)
    await fresh.open()
    try:
        assert await fresh.latest_offset("orders", 0) == 4
        assert await fresh.earliest_offset("orders", 0) == 5
        [result] = await fresh.append("orders", 0, [_event("next")])
        assert result.offset == 5
    finally:
        await fresh.close()


def test_url_masks_the_password() -> None:
    store = MongoStore("mongodb://bus:s3cret@127.0.0.1:27017/bus?authSource=admin")
    assert "s3cret" not in store.url
    assert "s3cret" not in repr(store)
    assert store.url == "mongodb://bus:***@127.0.0.1:27017/bus?authSource=admin"


async def test_an_unreachable_server_raises_store_unavailable() -> None:
    url = f"mongodb://127.0.0.1:{free_port()}/bus?serverSelectionTimeoutMS=200"
    store = MongoStore(url)
    with warnings.catch_warnings():
        # pymongo 4.20 leaks the socket of a server-monitor connect that
        # close() cancels mid-way; collect it here rather than at exit.
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(StoreUnavailableError, match="unreachable"):
            await store.open()
        gc.collect()
    with pytest.raises(StoreUnavailableError, match="not open"):
        await store.ping()


@pytest.mark.mongo
async def test_claimers_and_lease_takers_in_separate_instances_never_share(
    mongo_store_url: str,
) -> None:
    stores = [MongoStore(mongo_store_url) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        skip_without_atomic_updates(stores[0])
        await stores[0].outbox_insert(
            [
                NewOutboxRow(id=f"row-{i:02d}", topic="orders", payload=b"{}", created_ms=i)
                for i in range(30)
            ]
        )

        async def drain(store: MongoStore, claimer: str) -> list[str]:
            got: list[str] = []
            while rows := await store.outbox_claim(claimer, 2, 60_000, 1_000):
                got.extend(row.id for row in rows)
            return got

        claimed = await asyncio.gather(*(drain(s, f"d{n}") for n, s in enumerate(stores)))
        everything = [row_id for rows in claimed for row_id in rows]
        assert sorted(everything) == [f"row-{i:02d}" for i in range(30)]

        leases = await asyncio.gather(
            *(s.acquire_lease("compactor", f"h{n}", 10_000, 1_000) for n, s in enumerate(stores))
        )
        assert sum(lease is not None for lease in leases) == 1
    finally:
        for store in stores:
            await store.close()


@pytest.mark.mongo
async def test_numbers_beyond_32_bits_come_back_as_plain_ints(store: MongoStore) -> None:
    """BSON int64 decodes to `bson.Int64`, which msgspec refuses to encode;
    every number the adapter returns must be a plain `int`."""
    now = 1_700_000_000_123
    await store.append("orders", 0, [NewEvent(id="e", ts=now, payload=b"{}")])
    await store.outbox_insert([NewOutboxRow(id="o", topic="orders", payload=b"{}", created_ms=now)])
    [claimed] = await store.outbox_claim("d", 1, 60_000, now)
    await store.view_upsert("processes", "p", {"started": now, "pids": [now]}, now)
    lease = await store.acquire_lease("compactor", "h", 10_000, now)

    [event] = await store.read("orders", 0, 0, 1)
    view = await store.view_get("processes", "p")
    assert view is not None
    assert lease is not None
    numbers = [
        event.ts,
        claimed.created_ms,
        claimed.lease_until_ms,
        view.offset,
        view.value["started"],
        view.value["pids"][0],
        lease.expires_at_ms,
        await store.offset_for_timestamp("orders", 0, now),
    ]
    assert all(type(number) is int for number in numbers), [type(n) for n in numbers]
    assert msgspec.json.encode([event, claimed, view, lease])
