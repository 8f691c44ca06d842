"""`DeliveryTracker`: what the gateway holds for one client subscription,
the broker-side handle and the bounded map from event id to the delivery
it stands for.

Clients ack by event id; the map turns that id back into the delivery (and
so its partition and offset). It holds only what this connection was sent
and not yet settled, evicting the oldest beyond its cap, so a client can
ack only what it was delivered and the map cannot grow without bound.
"""

from __future__ import annotations

from collections import OrderedDict

from promethean.client import Message, SubscriptionHandle


class DeliveryTracker:
    def __init__(self, topic: str, group: str, max_tracked: int) -> None:
        self.topic = topic
        self.group = group
        self.max_tracked = max_tracked
        self.handle: SubscriptionHandle | None = None
        self.closed = False
        self._inflight: OrderedDict[str, Message] = OrderedDict()

    def __len__(self) -> int:
        return len(self._inflight)

    def remember(self, message: Message) -> None:
        """A redelivery of the same id replaces the older delivery."""
        self._inflight.pop(message.id, None)
        self._inflight[message.id] = message
        while len(self._inflight) > self.max_tracked:
            self._inflight.popitem(last=False)

    def get(self, event_id: str) -> Message | None:
        return self._inflight.get(event_id)

    def take(self, event_id: str) -> Message | None:
        return self._inflight.pop(event_id, None)

    def clear(self) -> None:
        self._inflight.clear()
