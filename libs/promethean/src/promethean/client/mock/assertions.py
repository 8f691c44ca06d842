"""The assertion helpers behind `InMemoryBroker.expect_delivered` and
``next_message``; failures say what did happen and what may be missing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from promethean.client.mock.config import Overflow
from promethean.client.mock.record import INTERNAL_GROUP_PREFIX
from promethean.client.mock.subscription import MockSubscription
from promethean.client.types import Message, SubscribeOptions
from promethean.frames.fields import MAX_ACK_TIMEOUT_MS

if TYPE_CHECKING:
    from promethean.client.mock.broker import InMemoryBroker
    from promethean.client.mock.client import MockClient

PROBE_BUFFER = 4096
DRAIN_HINT = (
    " ({n} deliveries are still in transit: `await bus.drain()` or `await bus.advance(ms)`)"
)


def _hint(broker: InMemoryBroker) -> str:
    pending = broker.in_transit
    return DRAIN_HINT.format(n=pending) if pending else ""


def expect_delivered(
    broker: InMemoryBroker,
    topic: str,
    *,
    times: int | None,
    predicate: Callable[[Message], bool] | None,
    group: str | None,
) -> list[Message]:
    if times is not None and times < 0:
        raise ValueError("times cannot be negative")
    delivered = broker.recorder.delivered_messages
    on_topic = [m for m in delivered if m.topic == topic and (group is None or m.group == group)]
    matching = [m for m in on_topic if predicate is None or predicate(m)]
    if (len(matching) > 0) if times is None else (len(matching) == times):
        return matching
    wanted = "at least 1" if times is None else str(times)
    where = topic if group is None else f"{topic} (group {group})"
    others = Counter(m.topic for m in delivered if m.topic != topic)
    detail = (
        f"expected {wanted} deliveries on {where}"
        f"{' matching the predicate' if predicate else ''}, got {len(matching)}"
    )
    if predicate is not None:
        detail += f" ({len(on_topic)} on the topic in all)"
    if others:
        detail += f"; other topics: {dict(others)}"
    raise AssertionError(detail + _hint(broker))


class Probe:
    """An internal subscriber reading one topic from its start, for
    ``next_message``. Each message is returned once: a copy redelivered
    because the probe was not read before its ack deadline is skipped."""

    def __init__(self, sub: MockSubscription) -> None:
        self.sub = sub
        self._returned: dict[int, int] = {}

    @classmethod
    async def open(cls, observer: MockClient, topic: str, number: int) -> Probe:
        sub = await observer.subscribe(
            topic,
            f"{INTERNAL_GROUP_PREFIX}{number}",
            options=SubscribeOptions(start="earliest", ack_timeout_ms=MAX_ACK_TIMEOUT_MS),
            buffer_size=PROBE_BUFFER,
            overflow=Overflow.BLOCK,
        )
        return cls(sub)

    async def take(self, broker: InMemoryBroker) -> Message:
        while (message := self.sub.take()) is not None:
            await message.ack()
            if message.offset > self._returned.get(message.partition, -1):
                self._returned[message.partition] = message.offset
                return message
        raise AssertionError(f"no message on {self.sub.topic} yet{_hint(broker)}")
