"""Connection faults: ``disconnect_now``, ``disconnect_after`` and
``reconnect`` raise and recover exactly as a lost real connection would."""

from __future__ import annotations

import asyncio

import pytest

from promethean.client import Message, SubscribeOptions
from promethean.errors import ConnectionLostError
from promethean.testing import ConnectionState, EventKind, InMemoryBroker, recording_subscriber


async def test_lost_connection_raises_the_real_clients_error_type(bus: InMemoryBroker) -> None:
    await bus.disconnect_now()
    with pytest.raises(ConnectionLostError) as lost:
        await bus.publish("t", 1)
    assert isinstance(lost.value, ConnectionError)
    assert lost.value.code == "connection_lost"
    with pytest.raises(ConnectionLostError):
        await bus.subscribe("t", "g")


async def test_disconnect_after_lets_n_calls_through(bus: InMemoryBroker) -> None:
    client = bus.new_client()
    client.disconnect_after(2)
    await client.publish("t", 1)
    await client.subscribe("t", "g")
    with pytest.raises(ConnectionLostError):
        await client.publish("t", 2)
    assert client.state is ConnectionState.LOST
    assert bus.counters.published == 1
    assert [e.kind for e in bus.events][-1] is EventKind.DISCONNECTED


async def test_lost_connection_gives_in_flight_work_back_and_ignores_late_acks(
    bus: InMemoryBroker,
) -> None:
    flaky = bus.new_client("flaky")
    held: list[Message] = []

    async def hold(message: Message) -> None:
        held.append(message)

    await flaky.subscribe("jobs", "workers", hold, manual_ack=True)
    await bus.publish("jobs", "work")
    steady = recording_subscriber()
    await bus.subscribe("jobs", "workers", steady)
    await flaky.disconnect_now()
    assert [(m.payload, m.attempt) for m in steady.messages] == [("work", 2)]
    await held[0].ack()
    assert bus.events_of(EventKind.IGNORED)[0].detail == "ack"
    assert bus.counters.acked == 1


async def test_iterating_waits_out_a_lost_connection(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("t", "g", options=SubscribeOptions(start="earliest"))
    await bus.disconnect_now()
    waiting = asyncio.create_task(anext(sub))
    await bus.new_client().publish("t", "while away")
    await bus.drain()
    assert not waiting.done()
    await bus.reconnect()
    await bus.drain()
    assert (await waiting).payload == "while away"


async def test_reconnect_resubscribes_and_redelivers_what_was_lost(bus: InMemoryBroker) -> None:
    sub = await bus.subscribe("t", "g", options=SubscribeOptions(start="earliest"))
    await bus.publish("t", "a", key="k")
    first = await anext(sub)
    await bus.disconnect_now()
    await bus.reconnect()
    again = await anext(sub)
    assert (again.id, again.attempt) == (first.id, 2)
    await again.ack()
    await bus.publish("t", "b", key="k")
    assert (await anext(sub)).payload == "b"


async def test_closed_client_cannot_reconnect(bus: InMemoryBroker) -> None:
    client = bus.new_client()
    await client.close()
    with pytest.raises(ConnectionLostError, match="closed"):
        await client.reconnect()


def test_disconnect_after_needs_a_count(bus: InMemoryBroker) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        bus.disconnect_after(-1)
