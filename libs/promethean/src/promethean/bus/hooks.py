"""Observation points of the engine. The default does nothing; the broker
plugs metrics and audit sampling in, the mock broker its counters."""

from __future__ import annotations

from collections.abc import Sequence

from promethean.bus.requests import PublishRequest
from promethean.store.records import AppendResult


class EngineHooks:
    def published(
        self, results: Sequence[AppendResult], requests: Sequence[PublishRequest]
    ) -> None:
        """Requests were appended (or found as duplicates), aligned with results."""

    def append_batch(self, size: int, seconds: float) -> None:
        """One group-committed store write finished."""

    def subscribed(self, topic: str, group: str) -> None:
        """A subscription joined a group."""

    def delivered(self, topic: str, group: str, partition: int, attempt: int) -> None:
        """An event was handed to a consumer."""

    def acked(self, topic: str, group: str, partition: int, event_ts_ms: int, now_ms: int) -> None:
        """A delivery was acknowledged."""

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        """A delivery failed (nack, timeout, lost consumer) and will go out again."""

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        """An event exhausted its attempts and moved to the DLQ."""


class FanoutHooks(EngineHooks):
    """Several observers behind one hooks object (e.g. metrics and audit)."""

    def __init__(self, *hooks: EngineHooks) -> None:
        self._hooks = hooks

    def published(
        self, results: Sequence[AppendResult], requests: Sequence[PublishRequest]
    ) -> None:
        for hook in self._hooks:
            hook.published(results, requests)

    def append_batch(self, size: int, seconds: float) -> None:
        for hook in self._hooks:
            hook.append_batch(size, seconds)

    def subscribed(self, topic: str, group: str) -> None:
        for hook in self._hooks:
            hook.subscribed(topic, group)

    def delivered(self, topic: str, group: str, partition: int, attempt: int) -> None:
        for hook in self._hooks:
            hook.delivered(topic, group, partition, attempt)

    def acked(self, topic: str, group: str, partition: int, event_ts_ms: int, now_ms: int) -> None:
        for hook in self._hooks:
            hook.acked(topic, group, partition, event_ts_ms, now_ms)

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        for hook in self._hooks:
            hook.redelivery(topic, group, partition, reason)

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        for hook in self._hooks:
            hook.dead_lettered(topic, group, partition, reason)
