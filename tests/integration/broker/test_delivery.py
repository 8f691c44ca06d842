"""Invariants 3 and 4 at the wire: unacked deliveries come back with the
attempt counted, MODACK defers, NACK returns at once, and after
``max_attempts`` the event moves to ``<topic>.DLQ`` with its metadata."""

from __future__ import annotations

import asyncio
import time

from tests.fixtures.broker import BrokerProcess
from tests.fixtures.wire import WireClient
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import committed, create_topic, eventually, publish_many

ACK_TIMEOUT_S = 0.3
"""BUS_ACK_TIMEOUT_MS of the fast settings."""


async def test_unacked_delivery_returns_after_its_deadline(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group)
    published = await client.publish(topic, {"job": 1})

    first = await client.next_message()
    sent = time.monotonic()
    assert (first["offset"], first["attempt"]) == (published["offset"], 1)
    assert first["ack_deadline_ms"] > first["envelope"]["ts"]
    second = await client.next_message(within=3)
    waited = time.monotonic() - sent
    assert (second["offset"], second["attempt"]) == (published["offset"], 2)
    assert waited >= ACK_TIMEOUT_S * 0.8, f"redelivered after {waited:.3f}s, before the deadline"

    await client.ack(second)
    await client.no_message(ACK_TIMEOUT_S * 3)


async def test_disconnect_hands_inflight_work_to_another_member(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    holder = await connect(shared_broker.url)
    await holder.subscribe(topic, group, ack_timeout_ms=60_000)
    waiting = await connect(shared_broker.url)
    await holder.publish(topic, {"job": "x"}, key="same")
    taken = await holder.next_message()
    await waiting.subscribe(topic, group, ack_timeout_ms=60_000)
    await waiting.no_message(0.3)  # the work is leased to `holder`

    started = time.monotonic()
    await holder.close()
    again = await waiting.next_message(within=5)
    assert time.monotonic() - started < 5, "a lost consumer's work must not wait for its lease"
    assert (again["partition"], again["offset"]) == (taken["partition"], taken["offset"])
    assert again["attempt"] == 2


async def test_nack_redelivers_at_once_with_the_next_attempt(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, ack_timeout_ms=60_000)
    await client.publish(topic, {"job": 2})
    first = await client.next_message()
    await client.nack(first, reason="try later")
    again = await client.next_message(within=2)
    assert (again["offset"], again["attempt"]) == (first["offset"], 2)
    await client.ack(again)
    await client.no_message(0.3)


async def test_modack_defers_redelivery(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group)
    await client.publish(topic, {"job": 3})
    first = await client.next_message()
    extended = time.monotonic()
    await client.modack(first, extend_ms=1500)
    await client.ping()
    # Without the MODACK it would come back after 300 ms.
    await client.no_message(1.0)
    again = await client.next_message(within=3)
    assert time.monotonic() - extended >= 1.4
    assert (again["offset"], again["attempt"]) == (first["offset"], 2)

    # MODACK 0 gives it back now.
    await client.modack(again, extend_ms=0)
    third = await client.next_message(within=1)
    assert (third["offset"], third["attempt"]) == (first["offset"], 3)
    await client.ack(third)


async def test_exhausted_event_moves_to_the_dlq_with_its_metadata(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    create_topic(shared_broker, topic, partitions=2, max_attempts=3)
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group)
    published = await client.publish(
        topic, {"poison": True}, key="k1", headers={"trace": "abc"}, id="poison-1"
    )
    attempts = []
    for _ in range(3):
        message = await client.next_message(within=3)
        attempts.append(message["attempt"])
        # Let it time out: that is the failure being counted.
    assert attempts == [1, 2, 3]
    await client.no_message(ACK_TIMEOUT_S * 3)

    dlq = await connect(shared_broker.url)
    await dlq.subscribe(f"{topic}.DLQ", names.group("ops"), from_={"kind": "earliest"})
    dead = await dlq.next_message(within=3)
    envelope = dead["envelope"]
    assert envelope["payload"] == {"poison": True}
    assert envelope["key"] == "k1"
    headers = envelope["headers"]
    assert headers["trace"] == "abc"
    assert headers["x-dlq-original-topic"] == topic
    assert headers["x-dlq-original-partition"] == str(published["partition"])
    assert headers["x-dlq-original-offset"] == str(published["offset"])
    assert headers["x-dlq-original-id"] == "poison-1"
    assert headers["x-dlq-group"] == group
    assert headers["x-dlq-attempts"] == "3"
    assert headers["x-dlq-reason"] == "ack_timeout"
    await dlq.ack(dead)

    # Dead-lettered counts as done: the group's commit moves past it.
    await eventually(
        lambda: committed(shared_broker, topic, group).get(published["partition"]),
        lambda c: c == published["offset"],
    )


async def test_nack_reason_travels_to_the_dlq(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    create_topic(shared_broker, topic, partitions=1, max_attempts=2)
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, ack_timeout_ms=60_000)
    await client.publish(topic, {"bad": 1})
    await client.nack(await client.next_message(), reason="first")
    await client.nack(await client.next_message(), reason="schema mismatch")
    dlq = await connect(shared_broker.url)
    await dlq.subscribe(f"{topic}.DLQ", names.group("ops"), from_={"kind": "earliest"})
    dead = await dlq.next_message(within=3)
    assert dead["envelope"]["headers"]["x-dlq-reason"] == "schema mismatch"
    assert dead["envelope"]["headers"]["x-dlq-attempts"] == "2"
    await client.no_message(0.3)


async def test_competing_consumers_share_the_work(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    members = [await connect(shared_broker.url) for _ in range(3)]
    for member in members:
        await member.subscribe(topic, group, ack_timeout_ms=60_000, max_inflight=10)
    publisher = await connect(shared_broker.url)
    ids = [f"w{i}" for i in range(90)]
    await publish_many(publisher, topic, ids, key_of=lambda i: f"k{i}")

    async def collect(member: WireClient) -> list[str]:
        got: list[str] = []
        while True:
            try:
                message = await member.next_message(within=1.0)
            except AssertionError:
                return got
            got.append(message["envelope"]["id"])
            await member.ack(message)

    shares = await asyncio.gather(*(collect(m) for m in members))
    everything = [i for share in shares for i in share]
    assert sorted(everything) == sorted(ids), "each event goes to exactly one member"
    assert all(share for share in shares), f"idle member: {[len(s) for s in shares]}"


async def test_filtered_out_events_count_as_done(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    create_topic(shared_broker, topic, partitions=1)
    client = await connect(shared_broker.url)
    await client.subscribe(
        topic, group, from_={"kind": "earliest"}, filter={"header": ["kind", "wanted"]}
    )
    for i in range(6):
        kind = "wanted" if i % 3 == 0 else "other"
        await client.publish(topic, {"i": i}, headers={"kind": kind})
    got = await client.take(2)
    assert [m["envelope"]["payload"]["i"] for m in got] == [0, 3]
    for message in got:
        await client.ack(message)
    await client.no_message(0.3)
    await eventually(lambda: committed(shared_broker, topic, group).get(0), lambda c: c == 5)


async def test_max_inflight_bounds_unacked_deliveries(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, ack_timeout_ms=60_000, max_inflight=3)
    await publish_many(client, topic, [f"m{i}" for i in range(8)])
    first = await client.take(3)
    await client.no_message(0.3)
    await client.ack(first[0])
    fourth = await client.next_message()
    assert fourth["envelope"]["id"] not in {m["envelope"]["id"] for m in first}
    await client.no_message(0.3)


async def test_flow_credits_gate_deliveries(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, ack_timeout_ms=60_000, credits=2)
    await publish_many(client, topic, [f"c{i}" for i in range(6)])
    batch = await client.take(2)
    for message in batch:
        await client.ack(message)
    await client.no_message(0.3)
    await client.send({"type": "FLOW", "credits": 3, "topic": topic, "group": group})
    assert len(await client.take(3)) == 3
    await client.no_message(0.3)


async def test_ack_frames_with_corr_are_confirmed(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    await client.subscribe(topic, group, ack_timeout_ms=60_000, credits=10)
    await publish_many(client, topic, ["x", "y", "z"])
    first, second, third = await client.take(3)
    for frame in (
        {"type": "MODACK", **client.ref(first), "extend_ms": 5_000},
        {"type": "ACK", **client.ref(first)},
        {"type": "NACK", **client.ref(second), "reason": "later"},
        {
            "type": "ACK_BATCH",
            "topic": topic,
            "group": group,
            "items": [[third["partition"], third["offset"]]],
        },
        {"type": "FLOW", "credits": 1, "topic": topic, "group": group},
    ):
        reply = await client.request(frame)
        assert (reply["type"], reply["corr"]) == ("OK", frame["corr"]), reply
    again = await client.next_message()
    assert (again["offset"], again["attempt"]) == (second["offset"], 2)
    await client.ack(again)  # without corr: no reply at all
    await client.ping()
    assert client.unrouted == []
