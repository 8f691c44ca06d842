"""How a delivery ends: ack, nack, modack, ack-deadline expiry, redelivery
with backoff and dead-lettering.

`Settlement` works on the engine's live group states (shared, not copied)
and appends dead letters through the engine's own publish, so a DLQ record
is group-committed and idempotent like any other event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from promethean.bus.config import EngineConfig
from promethean.bus.cursor import InFlight, PartitionCursor
from promethean.bus.dlq import dead_letter_event
from promethean.bus.group import GroupTopic
from promethean.bus.hooks import EngineHooks
from promethean.bus.requests import AckRef, PublishRequest
from promethean.bus.topics import TopicRegistry
from promethean.clock import Clock
from promethean.errors import FrameError
from promethean.frames.codes import ErrorCode
from promethean.frames.settle import SettleVerb
from promethean.names import DLQ_SUFFIX
from promethean.store.port import Store
from promethean.store.records import AppendResult, StoredEvent

ACK_TIMEOUT = "ack_timeout"
"""The reason (and hook kind) of a delivery whose ack deadline passed."""

Publish = Callable[[Sequence[PublishRequest]], Awaitable[list[AppendResult]]]
GroupKey = tuple[str, str]
"""(group, topic)"""


def backoff_ms(config: EngineConfig, failed_attempts: int) -> int:
    """The delay before a failed delivery goes out again: doubling from
    ``redelivery_backoff_ms`` per failed attempt, capped; 0 turns it off."""
    base = config.redelivery_backoff_ms
    if base <= 0:
        return 0
    return int(min(config.redelivery_backoff_max_ms, base * 2 ** (failed_attempts - 1)))


class Settlement:
    def __init__(
        self,
        groups: Mapping[GroupKey, GroupTopic],
        *,
        store: Store,
        topics: TopicRegistry,
        config: EngineConfig,
        clock: Clock,
        hooks: EngineHooks,
        publish: Publish,
    ) -> None:
        self._groups = groups
        self._store = store
        self._topics = topics
        self._config = config
        self._clock = clock
        self._hooks = hooks
        self._publish = publish

    # -- the consumer's verbs ----------------------------------------------

    def ack(self, ref: AckRef) -> bool:
        """Mark a delivered offset done; acks of finished work are no-ops."""
        state, cursor = self._state_for(ref)
        if not self._check_known(cursor, ref):
            return False
        flight = cursor.inflight.get(ref.offset)
        if flight is not None:
            flight.sub.inflight -= 1
            self._hooks.acked(
                ref.topic, ref.group, ref.partition, flight.event.ts, self._clock.now_ms()
            )
        cursor.finish(ref.offset)
        state.wake()
        return True

    def ack_many(self, topic: str, group: str, items: Sequence[tuple[int, int]]) -> int:
        done = 0
        for partition, offset in items:
            if self.ack(AckRef(topic, group, partition, offset)):
                done += 1
        return done

    async def nack(self, ref: AckRef, reason: str | None = None) -> None:
        state, cursor = self._state_for(ref)
        if not self._check_known(cursor, ref):
            return
        flight = cursor.inflight.get(ref.offset)
        if flight is None:
            return  # already waiting for redelivery
        # The client's text goes to the DLQ record; observers only learn it was a NACK.
        await self.retry(
            state,
            [(cursor, flight)],
            reason=reason or SettleVerb.NACK,
            backoff=True,
            kind=SettleVerb.NACK,
        )
        state.wake()

    def modack(self, ref: AckRef, extend_ms: int) -> bool:
        state, cursor = self._state_for(ref)
        if not self._check_known(cursor, ref):
            return False
        flight = cursor.inflight.get(ref.offset)
        if flight is None:
            return False
        if extend_ms == 0:
            # MODACK 0 means "give it back now", as in Pub/Sub.
            flight.deadline_ms = self._clock.now_ms()
            state.wake()
            return True
        return cursor.extend(ref.offset, self._clock.now_ms() + extend_ms)

    def _state_for(self, ref: AckRef) -> tuple[GroupTopic, PartitionCursor]:
        state = self._groups.get((ref.group, ref.topic))
        if state is None:
            raise FrameError(
                f"no subscription of {ref.group} on {ref.topic}", code=ErrorCode.NOT_SUBSCRIBED
            )
        cursor = state.cursors.get(ref.partition)
        if cursor is None:
            raise FrameError(
                f"{ref.topic} has no partition {ref.partition}", code=ErrorCode.UNKNOWN_DELIVERY
            )
        return state, cursor

    @staticmethod
    def _check_known(cursor: PartitionCursor, ref: AckRef) -> bool:
        """True if the ack refers to live work; False if already done."""
        if cursor.watermark.is_done(ref.offset):
            return False
        if not cursor.knows(ref.offset):
            raise FrameError(
                f"offset {ref.offset} of {ref.topic}/{ref.partition} "
                f"was not delivered to {ref.group}",
                code=ErrorCode.UNKNOWN_DELIVERY,
            )
        return True

    # -- expiry, redelivery and the DLQ ------------------------------------

    async def expire_due(self) -> int:
        """Take back every hand-out whose ack deadline passed; returns how many."""
        now = self._clock.now_ms()
        expired = 0
        for state in list(self._groups.values()):
            flights = [(c, f) for c in state.cursors.values() for f in c.expired(now)]
            if flights:
                expired += len(flights)
                await self.retry(state, flights, reason=ACK_TIMEOUT, backoff=True)
            if flights or any(
                (due := c.next_retry_due()) is not None and due <= now
                for c in state.cursors.values()
            ):
                state.wake()
        return expired

    async def retry(
        self,
        state: GroupTopic,
        flights: Sequence[tuple[PartitionCursor, InFlight]],
        *,
        reason: str,
        backoff: bool,
        kind: str | None = None,
    ) -> None:
        """Count one more failed attempt for each flight (durably, before it
        goes out again), then redeliver or dead-letter it. ``reason`` is
        kept with a dead-lettered event; hooks see ``kind`` (default: the
        reason), which never carries client text."""
        by_partition: dict[int, list[tuple[PartitionCursor, InFlight]]] = {}
        for cursor, flight in flights:
            if cursor.take_back(flight.event.offset) is None:
                continue
            flight.sub.inflight -= 1
            by_partition.setdefault(cursor.partition, []).append((cursor, flight))
        if not by_partition:
            return
        settled: set[int] = set()
        try:
            config = await self._topics.ensure(state.topic, self._clock.now_ms())
            now = self._clock.now_ms()
            for partition, items in by_partition.items():
                offsets = [f.event.offset for _, f in items]
                totals = await self._store.add_attempts(
                    state.group, state.topic, partition, offsets
                )
                items[0][0].note_recorded_attempts(offsets)
                for cursor, flight in items:
                    failed = totals.get(flight.event.offset, flight.attempt)
                    if failed >= config.max_attempts and not state.topic.endswith(DLQ_SUFFIX):
                        await self._dead_letter(state, cursor, flight.event, failed, reason)
                    else:
                        delay = backoff_ms(self._config, failed) if backoff else 0
                        cursor.schedule_retry(flight.event, failed, now + delay)
                        self._hooks.redelivery(state.topic, state.group, partition, kind or reason)
                    settled.add(id(flight))
        except BaseException:
            # The store failed before these were counted or dead-lettered:
            # they go back in flight, already due, so the next timer pass
            # retries them instead of the group stalling on a lost offset.
            due = self._clock.now_ms()
            for items in by_partition.values():
                for cursor, flight in items:
                    if id(flight) not in settled:
                        _give_back(cursor, flight, due)
            raise

    async def _dead_letter(
        self,
        state: GroupTopic,
        cursor: PartitionCursor,
        event: StoredEvent,
        attempts: int,
        reason: str,
    ) -> None:
        request = dead_letter_event(event, group=state.group, attempts=attempts, reason=reason)
        await self._publish([request])
        cursor.finish(event.offset)
        self._hooks.dead_lettered(state.topic, state.group, cursor.partition, reason)


def _give_back(cursor: PartitionCursor, flight: InFlight, due_ms: int) -> None:
    """Put ``flight`` back in flight, due by ``due_ms``, unless it was
    finished or handed out again meanwhile."""
    offset = flight.event.offset
    if cursor.watermark.is_done(offset) or cursor.knows(offset):
        return
    cursor.hand_out(flight.event, flight.sub, flight.attempt, min(flight.deadline_ms, due_ms))
    flight.sub.inflight += 1
