"""The publish gate and the engine's check hook, on the memory store with a
fake clock: validators cached per schema id, the latest version re-read
after its time to live or at once when the registry changes it, batches
refused item by item, nothing invalid stored."""

from __future__ import annotations

import json

import pytest

from promethean.bus import BusEngine, EngineConfig, PublishRequest
from promethean.bus.checks import SchemaInvalidError
from promethean.clock import FakeClock
from promethean.schemas import SCHEMA_ID_HEADER, SchemaGate, SchemaRegistry, ValidatorCache
from promethean.schemas.gate import LATEST_TTL_MS
from promethean.store.memory import MemoryStore
from promethean.store.records import TopicConfig

SUBJECT = "orders-value"
QTY = {"type": "object", "properties": {"qty": {"type": "integer"}}, "required": ["qty"]}
NUMBER_QTY = {"type": "object", "properties": {"qty": {"type": "number"}}, "required": ["qty"]}


def request(qty: object, **headers: str) -> PublishRequest:
    return PublishRequest(
        topic="orders", payload=json.dumps({"qty": qty}).encode(), headers=headers or None
    )


@pytest.fixture
async def store() -> MemoryStore:
    opened = MemoryStore()
    await opened.open()
    return opened


async def test_a_valid_payload_gains_the_schema_id_header(store: MemoryStore) -> None:
    version = await store.put_schema(SUBJECT, QTY)
    gate = SchemaGate(store, FakeClock())

    headers = await gate.admit(request(3, traceparent="00-abc"))

    assert headers == {"traceparent": "00-abc", SCHEMA_ID_HEADER: str(version.id)}


async def test_an_invalid_payload_names_pointer_and_reason(store: MemoryStore) -> None:
    await store.put_schema(SUBJECT, QTY)
    gate = SchemaGate(store, FakeClock())

    with pytest.raises(SchemaInvalidError) as refused:
        await gate.admit(request("three"))
    with pytest.raises(SchemaInvalidError) as not_json:
        await gate.admit(PublishRequest(topic="orders", payload=b"{nope"))

    assert refused.value.code == "schema_invalid"
    assert "/qty" in refused.value.msg
    assert "integer" in refused.value.msg
    assert "not JSON" in not_json.value.msg


async def test_validators_are_compiled_once_per_schema_id(store: MemoryStore) -> None:
    first = await store.put_schema(SUBJECT, QTY)
    await store.put_schema("invoices-value", QTY)  # same schema, same id
    clock = FakeClock()
    cache = ValidatorCache(max_entries=4)
    gate = SchemaGate(store, clock, cache)

    for _ in range(3):
        await gate.admit(request(1))
        await gate.admit(PublishRequest(topic="invoices", payload=b'{"qty": 2}'))
        clock.advance(LATEST_TTL_MS + 1)

    assert len(cache) == 1
    assert cache.cached(first.id) is not None


async def test_a_new_version_applies_after_the_ttl_or_at_once_when_forgotten(
    store: MemoryStore,
) -> None:
    await store.put_schema(SUBJECT, QTY)
    clock = FakeClock()
    gate = SchemaGate(store, clock)
    with pytest.raises(SchemaInvalidError):
        await gate.admit(request(1.5))

    await store.put_schema(SUBJECT, NUMBER_QTY)
    with pytest.raises(SchemaInvalidError):
        await gate.admit(request(1.5))  # still the cached latest
    clock.advance(LATEST_TTL_MS)
    assert SCHEMA_ID_HEADER in await gate.admit(request(1.5))

    registry = SchemaRegistry(store, on_change=gate.forget)
    await registry.delete_version(SUBJECT, "2", permanent=False)
    with pytest.raises(SchemaInvalidError):
        await gate.admit(request(1.5))


async def test_no_schema_means_refused(store: MemoryStore) -> None:
    gate = SchemaGate(store, FakeClock())

    with pytest.raises(SchemaInvalidError, match="orders-value has no schema"):
        await gate.admit(request(1))


async def engine_with_gate(store: MemoryStore, *, validate: bool) -> BusEngine:
    clock = FakeClock()
    engine = BusEngine(
        store,
        EngineConfig(default_partitions=2),
        clock,
        background=False,
        check=SchemaGate(store, clock),
    )
    await engine.put_topic(TopicConfig(name="orders", partitions=2, validate=validate))
    return engine


async def test_engine_publish_each_refuses_only_bad_items(store: MemoryStore) -> None:
    await store.put_schema(SUBJECT, QTY)
    engine = await engine_with_gate(store, validate=True)

    outcomes = await engine.publish_each([request(1), request("x"), request(2), request(None)])

    assert [type(o).__name__ for o in outcomes] == [
        "AppendResult",
        "SchemaInvalidError",
        "AppendResult",
        "SchemaInvalidError",
    ]
    stored = [e for p in range(2) for e in await store.read("orders", p, 0, 100)]
    assert sorted(json.loads(e.payload)["qty"] for e in stored) == [1, 2]
    assert all(e.headers and SCHEMA_ID_HEADER in e.headers for e in stored)
    await engine.close()


async def test_engine_publish_refuses_the_call_and_stores_nothing(store: MemoryStore) -> None:
    await store.put_schema(SUBJECT, QTY)
    engine = await engine_with_gate(store, validate=True)

    with pytest.raises(SchemaInvalidError):
        await engine.publish([request(1), request("x")])

    assert await store.count_events("orders") == 0
    await engine.close()


async def test_engine_checks_nothing_on_a_topic_without_validate(store: MemoryStore) -> None:
    await store.put_schema(SUBJECT, QTY)
    engine = await engine_with_gate(store, validate=False)

    results = await engine.publish([request("x")])

    stored = await store.read("orders", results[0].partition, 0, 10)
    assert stored[0].headers is None
    await engine.close()


async def test_admit_cached_answers_only_while_the_latest_is_cached(store: MemoryStore) -> None:
    await store.put_schema(SUBJECT, QTY)
    clock = FakeClock()
    gate = SchemaGate(store, clock)

    before = gate.admit_cached(request(1))
    await gate.admit(request(1))
    cached = gate.admit_cached(request(1))
    with pytest.raises(SchemaInvalidError):
        gate.admit_cached(request("x"))
    clock.advance(LATEST_TTL_MS)

    assert before is None
    assert cached is not None
    assert SCHEMA_ID_HEADER in cached
    assert gate.admit_cached(request(1)) is None
