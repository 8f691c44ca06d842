"""`SharedSubscription`: one broker subscription feeding every gateway
client subscribed to the same topic, group and options.

The broker sends at most the subscription's ``max_inflight`` deliveries,
so the queue of deliveries waiting for a client with credit is bounded by
it. Waiting deliveries go to the clients with credit in turn (a queue of
ready clients, round robin); a client at its ``max_inflight`` is skipped
until it settles something, so a slow client slows itself only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

from promethean.client import Message, SubscribeOptions, SubscriptionHandle
from promethean_gateway.deliveries import DeliveryTracker

RECHECK_S: Final = 1.0
"""While deliveries wait and every client is at its limit, how often the
clients' lapsed deliveries are looked for (a lapsed one frees a credit)."""


@dataclass(frozen=True, slots=True)
class SubscriptionKey:
    """Clients share a broker subscription when all of this is equal."""

    topic: str
    group: str
    options: SubscribeOptions
    """Without ``max_inflight``: that one is each client's own credit."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SharedSubscription:
    def __init__(self, key: SubscriptionKey) -> None:
        self.key = key
        self.handle: SubscriptionHandle | None = None
        self.members: set[DeliveryTracker] = set()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done once the broker answered the SUBSCRIBE (or refused it)."""
        self._ready: deque[DeliveryTracker] = deque()
        self._waiting: deque[Message] = deque()
        self._epoch = 0
        """The broker connection's epoch of the newest delivery."""
        self._recheck: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def on_message(self, message: Message) -> None:
        """The broker link's handler for this subscription."""
        if message.epoch > self._epoch:
            # Deliveries of a lost connection cannot be settled: the broker
            # gives them to the group again.
            self._epoch = message.epoch
            self._waiting = deque(m for m in self._waiting if m.epoch >= message.epoch)
            self._waiting.append(message)
            self._requeue_members()  # what they held lapsed with the connection
            return
        self._waiting.append(message)
        self.dispatch()

    def join(self, member: DeliveryTracker) -> None:
        member.shared = self
        self.members.add(member)
        self.wake(member)

    def leave(self, member: DeliveryTracker) -> list[Message]:
        """What ``member`` held and did not settle, to give back to the broker."""
        self.members.discard(member)
        return member.release()

    def wake(self, member: DeliveryTracker) -> None:
        """``member`` may have credit again (it joined or settled something)."""
        if member.queued or member.closed:
            return
        member.queued = True
        self._ready.append(member)
        self.dispatch()

    def dispatch(self) -> None:
        if not self._waiting:
            return
        now, epoch = now_ms(), self._epoch
        ready, waiting = self._ready, self._waiting
        while waiting and ready:
            member = ready.popleft()
            if member.closed or not member.has_credit(now, epoch):
                member.queued = False
                continue
            member.deliver(waiting.popleft())
            ready.append(member)
        if waiting and self._recheck is None and self.members:
            loop = asyncio.get_running_loop()
            self._recheck = loop.call_later(RECHECK_S, self._recheck_members)

    def _recheck_members(self) -> None:
        self._recheck = None
        self._requeue_members()

    def _requeue_members(self) -> None:
        for member in self.members:
            if not member.queued:
                member.queued = True
                self._ready.append(member)
        self.dispatch()

    def close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        self._waiting.clear()
        self._ready.clear()
