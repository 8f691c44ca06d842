"""The mock's stand-in for the network between the engine and a subscriber.

The engine hands a delivery to a `MockSubscription`; the transport applies
the fault plan (loss, injected failure, latency, delay) and schedules its
arrival on the fake clock. ``release_due`` moves whatever has arrived into
the subscribers' buffers. Probes (internal subscribers) bypass all of it.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import TypeAlias

from promethean.bus import BusEngine
from promethean.client.mock.config import Ordering
from promethean.client.mock.faults import FaultPlan, FaultStage, FaultTarget
from promethean.client.mock.record import Recorder
from promethean.client.mock.scheduler import Scheduler
from promethean.client.mock.subscription import MockSubscription
from promethean.client.types import Message
from promethean.clock import Clock
from promethean.errors import ConnectionLostError


@dataclass(slots=True)
class Arrival:
    sub: MockSubscription
    message: Message


@dataclass(slots=True)
class InjectedFailure:
    """A delivery that fails as if the subscriber's handler had raised."""

    sub: MockSubscription
    message: Message
    reason: str


@dataclass(slots=True)
class DelayedReply:
    """A publish acknowledgement held back by a ``delay`` publish fault."""

    owner: object
    future: asyncio.Future[None]


InTransit: TypeAlias = Arrival | InjectedFailure | DelayedReply


class Transport:
    def __init__(
        self,
        clock: Clock,
        plan: FaultPlan,
        recorder: Recorder,
        *,
        ordering: Ordering,
        seed: int,
    ) -> None:
        self.scheduler: Scheduler[InTransit] = Scheduler(ordering, seed)
        self._clock = clock
        self._plan = plan
        self._recorder = recorder
        self._ordering = ordering
        self._arrival_seq = itertools.count()

    @property
    def in_transit(self) -> int:
        return len(self.scheduler)

    def hand_out(self, sub: MockSubscription, message: Message) -> None:
        """The engine gave ``message`` to ``sub``: decide when and how it arrives."""
        if sub.internal:
            sub.receive(message, next(self._arrival_seq))
            return
        fate = self._plan.delivery_fate(
            FaultTarget(
                FaultStage.DELIVER,
                message.topic,
                message.id,
                message.raw_payload,
                message.key,
                message.headers,
                message.group,
                message.attempt,
            )
        )
        if fate.dropped is not None:
            self._recorder.dropped(message, fate.dropped)
            sub.release_slot()
            return
        due = self._clock.now_ms() + fate.latency_ms
        if self._ordering is Ordering.IN_ORDER:
            due = max(due, sub.last_due_ms)
            sub.last_due_ms = due
        due += fate.delay_ms
        if fate.failed is not None:
            self.scheduler.at(due, InjectedFailure(sub, message, fate.failed))
        else:
            self.scheduler.at(due, Arrival(sub, message))

    def hold_reply(self, owner: object, delay_ms: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.scheduler.at(self._clock.now_ms() + delay_ms, DelayedReply(owner, future))
        return future

    def fail_replies(self, owner: object, reason: str) -> None:
        """The owner's connection is gone: its held acknowledgements never come."""
        for item in self.scheduler.discard(
            lambda i: isinstance(i, DelayedReply) and i.owner is owner
        ):
            if isinstance(item, DelayedReply) and not item.future.done():
                item.future.set_exception(ConnectionLostError(reason))

    async def release_due(self) -> int:
        """Let everything due by now arrive; returns how many items moved."""
        moved = 0
        for item in self.scheduler.pop_due(self._clock.now_ms()):
            if isinstance(item, DelayedReply):
                if not item.future.done():
                    item.future.set_result(None)
                    moved += 1
            elif not item.sub.accepts(item.message):
                continue  # sent to a connection or subscription that is gone
            elif isinstance(item, InjectedFailure):
                item.sub.release_slot()
                await item.message.nack(item.reason)
                moved += 1
            else:
                item.sub.receive(item.message, next(self._arrival_seq))
                moved += 1
        return moved


def next_timer_after(now_ms: int, engine: BusEngine, scheduler: Scheduler[InTransit]) -> int | None:
    """The next fake-clock time something happens by itself: an arrival, an
    ack deadline or a redelivery coming due (strictly after ``now_ms``)."""
    times = [t for t in (scheduler.next_due_after(now_ms),) if t is not None]
    for group in engine.groups():
        for cursor in group.cursors.values():
            retry = cursor.next_retry_due()
            if retry is not None and retry > now_ms:
                times.append(retry)
            times.extend(f.deadline_ms for f in cursor.inflight.values() if f.deadline_ms > now_ms)
    return min(times, default=None)
