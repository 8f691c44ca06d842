"""A shared broker subscription hands deliveries to its clients in turn,
each bounded by its own max_inflight; a slow client slows itself only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from promethean.client import Message, SubscribeOptions
from promethean.frames.settle import SettleVerb
from promethean_gateway.deliveries import DeliveryTracker
from promethean_gateway.shared_subscription import SharedSubscription, SubscriptionKey, now_ms

TOPIC = "t.shared"
GROUP = "g"


class Client:
    """A gateway client subscription that records what it was sent."""

    def __init__(self, shared: SharedSubscription, max_inflight: int) -> None:
        self.sent: list[Message] = []
        self.tracker = DeliveryTracker(TOPIC, GROUP, max_inflight, self._send)
        shared.join(self.tracker)

    def _send(self, tracker: DeliveryTracker, message: Message) -> None:
        self.sent.append(message)

    def ack(self, message: Message) -> None:
        self.tracker.take(message.id)
        assert self.tracker.shared is not None
        self.tracker.shared.wake(self.tracker)


settled: list[tuple[str, SettleVerb, Any]] = []


async def record(message: Message, verb: SettleVerb, arg: Any) -> None:
    settled.append((message.id, verb, arg))


def message(n: int, *, epoch: int = 1, deadline_ms: int | None = None) -> Message:
    return Message(
        topic=TOPIC,
        group=GROUP,
        partition=0,
        offset=n,
        attempt=1,
        id=f"e{n}",
        ts=0,
        raw_payload=b"1",
        ack_deadline_ms=deadline_ms if deadline_ms is not None else now_ms() + 60_000,
        epoch=epoch,
        settle=record,
    )


def shared() -> SharedSubscription:
    return SharedSubscription(SubscriptionKey(TOPIC, GROUP, SubscribeOptions()))


async def test_deliveries_go_to_the_clients_in_turn() -> None:
    sub = shared()
    clients = [Client(sub, 100) for _ in range(4)]
    for n in range(40):
        await sub.on_message(message(n))
    assert [len(c.sent) for c in clients] == [10, 10, 10, 10]
    assert sub.waiting == 0


async def test_a_client_is_sent_no_more_than_its_max_inflight() -> None:
    sub = shared()
    small, large = Client(sub, 2), Client(sub, 5)
    for n in range(10):
        await sub.on_message(message(n))
    assert (len(small.sent), len(large.sent)) == (2, 5)
    assert sub.waiting == 3  # bounded by the broker subscription's max_inflight
    small.ack(small.sent[0])
    assert (len(small.sent), sub.waiting) == (3, 2)


async def test_a_slow_client_slows_itself_only() -> None:
    sub = shared()
    slow, fast = Client(sub, 3), Client(sub, 3)
    for n in range(30):
        await sub.on_message(message(n))
        for held in list(fast.tracker._inflight.values()):
            fast.ack(held)
    assert len(slow.sent) == 3
    assert len(fast.sent) == 27
    assert sub.waiting == 0


async def test_a_client_joining_late_takes_waiting_deliveries() -> None:
    sub = shared()
    first = Client(sub, 1)
    for n in range(3):
        await sub.on_message(message(n))
    late = Client(sub, 5)
    assert (len(first.sent), len(late.sent), sub.waiting) == (1, 2, 0)


async def test_lapsed_deliveries_stop_counting_against_the_credit() -> None:
    sub = shared()
    client = Client(sub, 2)
    await sub.on_message(message(0, deadline_ms=now_ms() - 1))
    await sub.on_message(message(1))
    await sub.on_message(message(2))
    # e0's lease lapsed at the broker: it no longer holds a credit.
    assert [m.id for m in client.sent] == ["e0", "e1", "e2"]
    assert client.tracker.get("e0") is None


async def test_deliveries_of_a_lost_connection_are_dropped() -> None:
    sub = shared()
    client = Client(sub, 1)
    await sub.on_message(message(0, epoch=1))
    await sub.on_message(message(1, epoch=1))
    assert sub.waiting == 1
    await sub.on_message(message(2, epoch=2))
    # e1 waited on the lost connection; e0's credit came free with it.
    assert [m.id for m in client.sent] == ["e0", "e2"]
    assert sub.waiting == 0


async def test_leaving_hands_back_what_the_client_held() -> None:
    sub = shared()
    leaving, staying = Client(sub, 2), Client(sub, 2)
    for n in range(6):
        await sub.on_message(message(n))
    held = sub.leave(leaving.tracker)
    assert sorted(m.id for m in held) == sorted(m.id for m in leaving.sent)
    assert leaving.tracker.closed
    assert len(leaving.tracker) == 0
    for n in range(6, 9):
        await sub.on_message(message(n))
    assert len(leaving.sent) == 2
    for m in list(staying.sent):
        staying.ack(m)
    assert Counter(len(c.sent) for c in (leaving, staying)) == Counter({2: 1, 4: 1})
