"""Dead letters: after max attempts an event moves to ``<topic>.DLQ`` with
its metadata and the reason, and the group moves on."""

from __future__ import annotations

from promethean.client import SubscribeOptions
from promethean.testing import recording_subscriber
from tests.behaviour.harness import Harness, unique

EARLIEST = SubscribeOptions(start="earliest")


async def test_event_moves_to_the_dlq_after_max_attempts(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic, group = unique("payments"), unique("g")
    failing = recording_subscriber(fail_when=lambda m: True)
    await bus.subscribe(topic, group, failing)
    dead = recording_subscriber()
    await bus.subscribe(f"{topic}.DLQ", unique("ops"), dead, options=EARLIEST)
    published = await bus.publish(
        topic, {"amount": 5}, key="acct-1", headers={"source": "web"}, id="pay-9"
    )
    [letter] = await bus_harness.received(dead, 1)
    max_attempts = bus_harness.settings.max_attempts
    assert failing.attempts == list(range(1, max_attempts + 1))
    assert letter.payload == {"amount": 5}
    assert letter.key == "acct-1"
    headers = letter.headers or {}
    assert headers["source"] == "web"
    assert headers["x-dlq-original-topic"] == topic
    assert headers["x-dlq-original-partition"] == str(published.partition)
    assert headers["x-dlq-original-offset"] == str(published.offset)
    assert headers["x-dlq-original-id"] == "pay-9"
    assert headers["x-dlq-group"] == group
    assert headers["x-dlq-attempts"] == str(max_attempts)
    assert headers["x-dlq-reason"].startswith(
        "InjectedFaultError: recording subscriber told to fail"
    )


async def test_a_dead_lettered_event_is_not_delivered_again(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("payments")
    rec = recording_subscriber(fail_when=lambda m: m.payload == "poison")
    await bus.subscribe(topic, unique("g"), rec, options=SubscribeOptions(ack_timeout_ms=300))
    await bus.publish(topic, "poison", key="k")
    await bus.publish(topic, "fine", key="k")
    await bus_harness.received(rec, bus_harness.settings.max_attempts + 1)
    await bus_harness.advance(600)
    await bus_harness.quiet()
    poison = [m.attempt for m in rec.messages if m.payload == "poison"]
    assert poison == list(range(1, bus_harness.settings.max_attempts + 1))
    assert [m.attempt for m in rec.messages if m.payload == "fine"] == [1]


async def test_repeated_ack_timeouts_dead_letter_the_event(bus_harness: Harness) -> None:
    bus = await bus_harness.client()
    topic = unique("jobs")
    never_acks = recording_subscriber()
    options = SubscribeOptions(ack_timeout_ms=300)
    await bus.subscribe(topic, unique("g"), never_acks, manual_ack=True, options=options)
    dead = recording_subscriber()
    await bus.subscribe(f"{topic}.DLQ", unique("ops"), dead, options=EARLIEST)
    await bus.publish(topic, "job")
    await bus_harness.advance(300 * bus_harness.settings.max_attempts + 200)
    [letter] = await bus_harness.received(dead, 1)
    assert (letter.headers or {})["x-dlq-reason"] == "ack_timeout"
    assert never_acks.attempts == list(range(1, bus_harness.settings.max_attempts + 1))
