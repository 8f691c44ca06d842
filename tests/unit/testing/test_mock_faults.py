"""Each fault knob: latency (fixed, ranged), ordering, drop_rate, and the
targeted drop / error / delay faults at delivery and at publish."""

from __future__ import annotations

import asyncio

import pytest

from promethean.client import SubscribeOptions
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.testing import (
    Fault,
    FaultAction,
    FaultStage,
    InMemoryBroker,
    Latency,
    MockConfig,
    Ordering,
    recording_subscriber,
)

ACK_MS = 1_000


async def _delivery_times(config: MockConfig, count: int) -> list[tuple[int, int]]:
    """(payload, arrival offset from the start) of ``count`` events."""
    async with InMemoryBroker(config) as bus:
        rec = recording_subscriber()
        await bus.subscribe("t", "g", rec)
        start = bus.clock.now_ms()
        for i in range(count):
            await bus.publish("t", i, key=f"k{i}")
        await bus.drain()
        arrivals = [e.at_ms - start for e in bus.events_of("delivered")]
        return list(zip(rec.payloads, arrivals, strict=True))


async def test_fixed_latency_holds_each_delivery_on_the_fake_clock() -> None:
    async with InMemoryBroker(MockConfig(latency=Latency.fixed(30))) as bus:
        rec = recording_subscriber()
        await bus.subscribe("t", "g", rec)
        await bus.publish("t", 1)
        await bus.advance(29)
        assert rec.messages == []
        await bus.advance(1)
        assert rec.payloads == [1]


async def test_ranged_latency_is_seeded_and_within_bounds() -> None:
    config = MockConfig(latency=Latency.between(10, 90), seed=7, ordering=Ordering.SHUFFLE)
    first = await _delivery_times(config, 20)
    again = await _delivery_times(config, 20)
    other_seed = await _delivery_times(
        MockConfig(latency=Latency.between(10, 90), seed=8, ordering=Ordering.SHUFFLE), 20
    )
    assert first == again
    assert first != other_seed
    assert all(10 <= at <= 90 for _, at in first)
    assert len({at for _, at in first}) > 5


async def test_in_order_latency_keeps_each_subscriber_fifo() -> None:
    times = await _delivery_times(MockConfig(latency=Latency.between(0, 100), seed=3), 30)
    assert [payload for payload, _ in times] == list(range(30))
    arrivals = [at for _, at in times]
    assert arrivals == sorted(arrivals)


async def test_shuffle_reorders_deliveries_released_together_and_repeats_per_seed() -> None:
    async def order(seed: int) -> list[int]:
        config = MockConfig(ordering="shuffle", seed=seed, mode="scheduled")
        async with InMemoryBroker(config) as bus:
            rec = recording_subscriber()
            await bus.subscribe("t", "g", rec)
            for i in range(20):
                await bus.publish("t", i, key="one-key")
            await bus.tick()
            return list(rec.payloads)

    first, again, other = await order(1), await order(1), await order(2)
    assert sorted(first) == list(range(20))
    assert first != list(range(20))
    assert first == again
    assert first != other


async def test_drop_rate_loses_deliveries_that_come_back_after_the_deadline() -> None:
    async def run(seed: int) -> tuple[list[str], int]:
        config = MockConfig(drop_rate=0.5, seed=seed, ack_timeout_ms=ACK_MS)
        async with InMemoryBroker(config) as bus:
            rec = recording_subscriber()
            await bus.subscribe("t", "g", rec)
            for i in range(20):
                await bus.publish("t", i, id=f"e{i}")
            first_round = [m.id for m in rec.messages]
            dropped = bus.counters.dropped
            assert 0 < dropped < 20
            bus.faults.drop_rate = 0.0
            await bus.advance(ACK_MS)
            assert sorted({m.id for m in rec.messages}) == sorted(f"e{i}" for i in range(20))
            assert bus.counters.redelivered == dropped
            return first_round, dropped

    assert await run(5) == await run(5)
    assert (await run(5))[0] != (await run(6))[0]


async def test_drop_fault_by_topic_pattern_fires_the_given_number_of_times(
    bus: InMemoryBroker,
) -> None:
    fault = bus.faults.drop("orders.*", times=1)
    orders, audits = recording_subscriber(), recording_subscriber()
    await bus.subscribe(
        "orders.created", "g", orders, options=SubscribeOptions(ack_timeout_ms=ACK_MS)
    )
    await bus.subscribe("audit", "g", audits)
    await bus.publish("orders.created", "o1")
    await bus.publish("orders.created", "o2")
    await bus.publish("audit", "a1")
    assert orders.payloads == ["o2"]
    assert audits.payloads == ["a1"]
    assert fault.fired == 1
    assert fault.exhausted
    await bus.advance(ACK_MS)
    assert [(m.payload, m.attempt) for m in orders.messages] == [("o2", 1), ("o1", 2)]


async def test_predicate_fault_targets_single_messages(bus: InMemoryBroker) -> None:
    bus.faults.drop(predicate=lambda target: target.payload == {"n": 3})
    rec = recording_subscriber()
    await bus.subscribe("t", "g", rec)
    for n in range(5):
        await bus.publish("t", {"n": n})
    assert [p["n"] for p in rec.payloads] == [0, 1, 2, 4]
    [dropped] = bus.events_of("dropped")
    assert dropped.detail == "fault on **"


async def test_error_fault_fails_the_delivery_as_a_handler_error(bus: InMemoryBroker) -> None:
    bus.faults.error("payments", times=2)
    rec = recording_subscriber()
    await bus.subscribe("payments", "g", rec)
    await bus.publish("payments", "p1")
    assert rec.attempts == [3]
    assert bus.counters.nacked == 2
    assert bus.counters.redelivered == 2
    assert all(e.detail == "injected fault on payments" for e in bus.events_of("nacked"))


async def test_error_fault_beyond_max_attempts_dead_letters(bus: InMemoryBroker) -> None:
    bus.faults.error("payments")
    await bus.subscribe("payments", "g", recording_subscriber())
    await bus.publish("payments", "p1")
    dead = await bus.next_message("payments.DLQ")
    assert dead.headers is not None
    assert dead.headers["x-dlq-reason"] == "injected fault on payments"
    assert bus.counters.dead_lettered == 1


async def test_delay_fault_holds_one_delivery_without_holding_the_others(
    bus: InMemoryBroker,
) -> None:
    bus.faults.delay(500, predicate=lambda target: target.payload == "slow")
    rec = recording_subscriber()
    await bus.subscribe("t", "g", rec)
    await bus.publish("t", "slow", key="k")
    await bus.publish("t", "fast", key="k")
    assert rec.payloads == ["fast"]
    await bus.advance(500)
    assert rec.payloads == ["fast", "slow"]


async def test_publish_error_fault_raises_and_stores_nothing(bus: InMemoryBroker) -> None:
    bus.faults.error("orders", stage=FaultStage.PUBLISH, times=1)
    with pytest.raises(PrometheanError) as refused:
        await bus.publish("orders", 1)
    assert refused.value.code == "internal"
    assert bus.counters.published == 0
    await bus.publish("orders", 2)
    assert (await bus.next_message("orders")).payload == 2


async def test_publish_error_fault_can_raise_a_chosen_error(bus: InMemoryBroker) -> None:
    chosen = PrometheanError("not allowed to publish here", code="forbidden")
    bus.faults.error(stage="publish", error=chosen)
    with pytest.raises(PrometheanError) as refused:
        await bus.publish("orders", 1)
    assert refused.value is chosen


async def test_publish_drop_fault_loses_the_acknowledgement_not_the_event(
    bus: InMemoryBroker,
) -> None:
    bus.faults.drop("orders", stage=FaultStage.PUBLISH, times=1)
    with pytest.raises(ConnectionLostError):
        await bus.publish("orders", 1, id="order-1")
    retried = await bus.publish("orders", 1, id="order-1")
    assert retried.duplicate
    assert (await bus.next_message("orders")).id == "order-1"
    assert bus.counters.published == 1
    assert bus.counters.duplicates == 1


async def test_publish_delay_fault_holds_the_acknowledgement(bus: InMemoryBroker) -> None:
    bus.faults.add(Fault(FaultAction.DELAY, "orders", stage=FaultStage.PUBLISH, delay_ms=200))
    rec = recording_subscriber()
    await bus.subscribe("orders", "g", rec)
    publishing = asyncio.create_task(bus.publish("orders", 1))
    await bus.advance(199)
    assert not publishing.done()
    assert rec.payloads == [1]
    await bus.advance(1)
    assert (await publishing).offset == 0


async def test_faults_can_be_removed_and_cleared(bus: InMemoryBroker) -> None:
    rec = recording_subscriber()
    await bus.subscribe("t", "g", rec)
    fault = bus.faults.drop()
    await bus.publish("t", 1)
    bus.faults.remove(fault)
    await bus.publish("t", 2)
    bus.faults.drop()
    bus.faults.latency = Latency.fixed(10)
    bus.faults.drop_rate = 1.0
    bus.faults.clear()
    await bus.publish("t", 3)
    assert rec.payloads == [2, 3]
    assert bus.faults.rules == []


def test_fault_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="delay_ms > 0"):
        Fault(FaultAction.DELAY)
    with pytest.raises(ValueError, match="times"):
        Fault(FaultAction.DROP, times=0)
    with pytest.raises(ValueError, match="explode"):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latency"):
        Latency(5, 1)
