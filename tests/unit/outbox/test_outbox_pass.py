"""One outbox pass on the mock broker: claim, publish with the row's id, settle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from promethean.clock import FakeClock
from promethean.errors import PrometheanError
from promethean.outbox import DLQ_TOPIC, new_row
from promethean.store.memory import MemoryStore
from promethean.store.records import NewOutboxRow, OutboxStatus
from promethean.testing import Fault, FaultAction, FaultStage, InMemoryBroker
from promethean_outbox_drainer.metrics import DrainerMetrics
from promethean_outbox_drainer.passes import OutboxPass, PassConfig
from promethean_outbox_drainer.publishing import backoff_ms, dlq_id

TOPIC = "orders.placed"
CONFIG = PassConfig(
    claimer="drainer-a",
    batch=10,
    lease_ms=1_000,
    max_attempts=3,
    backoff_ms=100,
    backoff_max_ms=150,
)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore("memory://outbox-test")
    await memory.open()
    yield memory
    await memory.close()


def outbox_pass_on(
    store: MemoryStore,
    bus: InMemoryBroker,
    clock: FakeClock,
    registry: CollectorRegistry | None = None,
) -> OutboxPass:
    return OutboxPass(store, bus, CONFIG, clock, DrainerMetrics(registry or CollectorRegistry()))


async def published_payloads(bus: InMemoryBroker, topic: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    config = await bus.store.get_topic_config(topic)
    assert config is not None, f"nothing was published to {topic}"
    for partition in range(config.partitions):
        for event in await bus.store.read(topic, partition, 0, 1000):
            found[event.id] = event.payload
    return found


async def test_a_pass_publishes_rows_with_their_ids_and_bytes_and_marks_them(
    store: MemoryStore, bus: InMemoryBroker
) -> None:
    clock = FakeClock()
    rows = [
        new_row(TOPIC, {"n": n, "$set": {"a.b": n}}, key=f"k{n}", headers={"h": "v"}, id=None)
        for n in range(5)
    ]
    await store.outbox_insert(rows)
    registry = CollectorRegistry()
    outbox_pass = outbox_pass_on(store, bus, clock, registry)

    result = await outbox_pass.run()

    assert (result.claimed, result.published, result.retried, result.failed) == (5, 5, 0, 0)
    assert await published_payloads(bus, TOPIC) == {row.id: row.payload for row in rows}
    for row in rows:
        stored = await store.outbox_get(row.id)
        assert stored is not None
        assert stored.status is OutboxStatus.PUBLISHED
        assert stored.published_ms == clock.now_ms()
    assert (await outbox_pass.run()).claimed == 0
    assert registry.get_sample_value("promethean_outbox_published_total") == 5
    assert registry.get_sample_value("promethean_outbox_claimed_total") == 5
    assert registry.get_sample_value("promethean_outbox_publish_latency_seconds_count") == 1


async def test_a_refused_row_backs_off_exponentially_then_goes_to_the_dlq(
    store: MemoryStore, bus: InMemoryBroker
) -> None:
    clock = FakeClock()
    refusal = PrometheanError("topic is read-only", code="forbidden")
    bus.faults.add(Fault(FaultAction.ERROR, topic=TOPIC, stage=FaultStage.PUBLISH, error=refusal))
    row = new_row(TOPIC, {"order": 7}, key="o-7", headers=None, id="row-7")
    await store.outbox_insert([row])
    outbox_pass = outbox_pass_on(store, bus, clock)

    first = await outbox_pass.run()
    assert (first.claimed, first.retried) == (1, 1)
    stored = await store.outbox_get("row-7")
    assert stored is not None
    assert (stored.attempts, stored.claimed_by) == (1, None)
    assert stored.next_attempt_ms == clock.now_ms() + 100
    assert "forbidden" in (stored.last_error or "")

    clock.advance(99)
    assert (await outbox_pass.run()).claimed == 0  # still backing off
    clock.advance(1)
    assert (await outbox_pass.run()).retried == 1
    stored = await store.outbox_get("row-7")
    assert stored is not None
    assert stored.next_attempt_ms == clock.now_ms() + 150  # 200, capped at the maximum

    clock.advance(150)
    last = await outbox_pass.run()
    assert (last.claimed, last.failed, last.retried) == (1, 1, 0)
    stored = await store.outbox_get("row-7")
    assert stored is not None
    assert (stored.status, stored.attempts) == (OutboxStatus.FAILED, 3)
    dead = await published_payloads(bus, DLQ_TOPIC)
    record = msgspec.json.decode(dead[dlq_id("row-7")])
    assert record["id"] == "row-7"
    assert record["topic"] == TOPIC
    assert record["payload"] == {"order": 7}
    assert record["attempts"] == 3
    assert "topic is read-only" in record["error"]


async def test_a_row_that_can_never_be_published_goes_to_the_dlq_at_once(
    store: MemoryStore, bus: InMemoryBroker
) -> None:
    clock = FakeClock()
    broken = NewOutboxRow(id="not-json", topic=TOPIC, payload=b"{oops", created_ms=1)
    misnamed = NewOutboxRow(id="bad-topic", topic="bad..topic", payload=b"1", created_ms=2)
    await store.outbox_insert([broken, misnamed])

    result = await outbox_pass_on(store, bus, clock).run()

    assert (result.claimed, result.failed, result.retried) == (2, 2, 0)
    dead = await published_payloads(bus, DLQ_TOPIC)
    assert msgspec.json.decode(dead[dlq_id("not-json")])["payload_text"] == "{oops"
    assert "bad_name" in msgspec.json.decode(dead[dlq_id("bad-topic")])["error"]
    for row_id in ("not-json", "bad-topic"):
        stored = await store.outbox_get(row_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == (OutboxStatus.FAILED, 1)


async def test_an_unreachable_broker_costs_no_attempt_and_the_row_is_stored_once(
    store: MemoryStore, bus: InMemoryBroker
) -> None:
    clock = FakeClock()
    lost = bus.faults.add(Fault(FaultAction.DROP, topic=TOPIC, stage=FaultStage.PUBLISH, times=1))
    row = new_row(TOPIC, {"order": 1}, key=None, headers=None, id="row-1")
    await store.outbox_insert([row])
    outbox_pass = outbox_pass_on(store, bus, clock)

    result = await outbox_pass.run()
    assert (result.claimed, result.unavailable, result.published) == (1, 1, 0)
    assert lost.fired == 1
    stored = await store.outbox_get("row-1")
    assert stored is not None
    assert (stored.status, stored.attempts, stored.claimed_by) == (
        OutboxStatus.PENDING,
        0,
        "drainer-a",
    )

    assert (await outbox_pass.run()).claimed == 0  # the lease is still live
    clock.advance(CONFIG.lease_ms)
    again = await outbox_pass.run()
    assert again.published == 1
    # The lost acknowledgement's publish was stored; the retry found the id.
    assert list(await published_payloads(bus, TOPIC)) == ["row-1"]
    assert bus.counters.duplicates == 1


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_ms(n, 100, 1000) for n in range(1, 7)] == [100, 200, 400, 800, 1000, 1000]
    assert backoff_ms(500, 100, 1000) == 1000


def test_dlq_ids_are_derived_and_bounded() -> None:
    assert dlq_id("abc") == "outbox/abc"
    long_id = "x" * 256
    assert dlq_id(long_id) == dlq_id(long_id)
    assert len(dlq_id(long_id)) <= 256
