"""`DeliveryTracker`: what the gateway holds for one client subscription,
its credits and the bounded map from event id to the delivery it stands for.

Clients ack by event id; the map turns that id back into the delivery (and
so its partition and offset). It holds only what this client was sent and
not yet settled, at most ``max_inflight`` of them: a client with no credit
left is sent nothing more until it settles something (or a delivery it
holds lapses), so a slow client slows itself only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from promethean.client import Message

if TYPE_CHECKING:
    from promethean_gateway.shared_subscription import SharedSubscription

Send = Callable[["DeliveryTracker", Message], None]
"""How a delivery reaches the client (the connection's EVENT frame)."""


class DeliveryTracker:
    __slots__ = (
        "_inflight",
        "_send",
        "closed",
        "group",
        "max_inflight",
        "queued",
        "shared",
        "topic",
    )

    def __init__(self, topic: str, group: str, max_inflight: int, send: Send) -> None:
        self.topic = topic
        self.group = group
        self.max_inflight = max(1, max_inflight)
        self.shared: SharedSubscription | None = None
        """The broker subscription this client draws from, once joined."""
        self.closed = False
        self.queued = False
        """Waiting in its shared subscription's ready queue."""
        self._send = send
        self._inflight: OrderedDict[str, Message] = OrderedDict()

    def __len__(self) -> int:
        return len(self._inflight)

    def has_credit(self, now_ms: int, epoch: int) -> bool:
        """Room for one more delivery. At the limit, deliveries that lapsed
        (their broker connection was lost, or their ack deadline passed: the
        broker gives them to the group again) stop counting and are forgotten."""
        if len(self._inflight) < self.max_inflight:
            return True
        while self._inflight:
            oldest = next(iter(self._inflight.values()))
            deadline = oldest.ack_deadline_ms
            if oldest.epoch >= epoch and (deadline is None or deadline > now_ms):
                break
            self._inflight.popitem(last=False)
        return len(self._inflight) < self.max_inflight

    def deliver(self, message: Message) -> None:
        """A redelivery of the same id replaces the older delivery."""
        self._inflight.pop(message.id, None)
        self._inflight[message.id] = message
        self._send(self, message)

    def get(self, event_id: str) -> Message | None:
        return self._inflight.get(event_id)

    def take(self, event_id: str) -> Message | None:
        return self._inflight.pop(event_id, None)

    def release(self) -> list[Message]:
        """Close it; what it held and did not settle, for giving back."""
        self.closed = True
        held = list(self._inflight.values())
        self._inflight.clear()
        return held
