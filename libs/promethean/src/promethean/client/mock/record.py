"""What a test can assert on afterwards: counters and an ordered event log.

Internal subscribers of the mock (the probes behind ``next_message``) are
left out of both, so the numbers describe the code under test only.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from promethean.bus.hooks import EngineHooks
from promethean.bus.requests import PublishRequest
from promethean.client.types import Message
from promethean.clock import Clock
from promethean.store.records import AppendResult

INTERNAL_GROUP_PREFIX = "_mock-probe-"


def is_internal_group(group: str) -> bool:
    return group.startswith(INTERNAL_GROUP_PREFIX)


class EventKind(enum.StrEnum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"
    PUBLISH_FAILED = "publish_failed"
    DELIVERED = "delivered"
    DROPPED = "dropped"
    ACKED = "acked"
    NACKED = "nacked"
    MODACKED = "modacked"
    REDELIVERY = "redelivery"
    DEAD_LETTERED = "dead_lettered"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    OVERFLOW = "overflow"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    IGNORED = "ignored"
    """An ack/nack/modack of a delivery that died with its connection."""
    REFUSED = "refused"
    """The broker refused an ack/nack/modack (the real client logs these too)."""


@dataclass(frozen=True, slots=True)
class BusEvent:
    kind: EventKind
    at_ms: int
    topic: str | None = None
    group: str | None = None
    partition: int | None = None
    offset: int | None = None
    id: str | None = None
    attempt: int | None = None
    detail: str | None = None


@dataclass(slots=True)
class Counters:
    published: int = 0
    """Publishes stored (duplicates not included)."""
    duplicates: int = 0
    """Publishes answered with an id the topic already held."""
    delivered: int = 0
    """Messages that reached subscriber code (a handler call or an iteration)."""
    dropped: int = 0
    """Deliveries lost on purpose (faults, ``drop_rate``, buffer overflow) and
    publish acknowledgements lost by a ``drop`` publish fault."""
    redelivered: int = 0
    """Failed deliveries (nack, handler error, ack deadline, lost subscriber)
    queued to go out again."""
    dead_lettered: int = 0
    acked: int = 0
    nacked: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Recorder:
    def __init__(self, clock: Clock, log_max: int) -> None:
        self.counters = Counters()
        self._clock = clock
        self._events: deque[BusEvent] = deque(maxlen=log_max)
        self._delivered: deque[Message] = deque(maxlen=log_max)

    @property
    def events(self) -> list[BusEvent]:
        return list(self._events)

    @property
    def delivered_messages(self) -> list[Message]:
        return list(self._delivered)

    def log(
        self,
        kind: EventKind,
        *,
        topic: str | None = None,
        group: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        id: str | None = None,
        attempt: int | None = None,
        detail: str | None = None,
    ) -> None:
        self._events.append(
            BusEvent(
                kind, self._clock.now_ms(), topic, group, partition, offset, id, attempt, detail
            )
        )

    def log_message(self, kind: EventKind, message: Message, detail: str | None = None) -> None:
        self.log(
            kind,
            topic=message.topic,
            group=message.group,
            partition=message.partition,
            offset=message.offset,
            id=message.id,
            attempt=message.attempt,
            detail=detail,
        )

    def delivered(self, message: Message) -> None:
        self.counters.delivered += 1
        self._delivered.append(message)
        self.log_message(EventKind.DELIVERED, message)

    def dropped(self, message: Message, reason: str) -> None:
        self.counters.dropped += 1
        self.log_message(EventKind.DROPPED, message, reason)


class RecorderHooks(EngineHooks):
    """Feeds the engine's own observations (redelivery, DLQ) into the recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def published(
        self, results: Sequence[AppendResult], requests: Sequence[PublishRequest]
    ) -> None:
        """Counted by the client side, which knows user publishes from DLQ appends."""

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        if is_internal_group(group):
            return
        self._recorder.counters.redelivered += 1
        self._recorder.log(
            EventKind.REDELIVERY, topic=topic, group=group, partition=partition, detail=reason
        )

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        if is_internal_group(group):
            return
        self._recorder.counters.dead_lettered += 1
        self._recorder.log(
            EventKind.DEAD_LETTERED, topic=topic, group=group, partition=partition, detail=reason
        )
