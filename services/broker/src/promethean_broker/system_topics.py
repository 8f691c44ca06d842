"""The broker's own topics: ``system.metrics`` (a periodic snapshot) and
``system.bus.audit`` (publish, ack, redelivery and DLQ records, sampled by
``PROMETHEAN_AUDIT_SAMPLE``).

Records go through a bounded queue to one publishing task, so auditing can
never block or grow the hot path: when the queue is full a record is
dropped and counted. Events on ``system.*`` topics are never audited, which
keeps the audit from auditing itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

import msgspec

from promethean.bus import BusEngine, EngineHooks, PublishRequest
from promethean.store.records import AppendResult

log = logging.getLogger("promethean.broker.system")

METRICS_TOPIC = "system.metrics"
AUDIT_TOPIC = "system.bus.audit"
SYSTEM_PREFIX = "system."
QUEUE_MAX = 1000
_json = msgspec.json.Encoder()


class SystemPublisher:
    """Built before the engine (its audit hooks go into the engine), then
    attached to it."""

    def __init__(self, broker_id: str) -> None:
        self._engine: BusEngine | None = None
        self._broker_id = broker_id
        self._queue: deque[PublishRequest] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def attach(self, engine: BusEngine) -> None:
        self._engine = engine

    def offer(self, topic: str, record: dict[str, Any], key: str | None = None) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self.dropped += 1
            return
        self._queue.append(PublishRequest(topic=topic, payload=_json.encode(record), key=key))
        self._ready.set()

    async def run(self) -> None:
        engine = self._engine
        if engine is None:
            raise RuntimeError("attach the engine before running the system publisher")
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), 256))]
                try:
                    await engine.publish_here(batch)
                except Exception as exc:
                    self.dropped += len(batch)
                    log.warning("system records not published", extra={"error": repr(exc)})

    def snapshot(self, engine: BusEngine, connections: int) -> dict[str, Any]:
        groups = [
            {
                "topic": g.topic,
                "group": g.group,
                "lag": sum(g.lag(p) for p in g.cursors),
                "inflight": g.inflight,
                "subscribers": len(g.subs),
            }
            for g in engine.groups()
            if not g.topic.startswith(SYSTEM_PREFIX)
        ]
        return {
            "broker": self._broker_id,
            "ts": engine.clock.now_ms(),
            "connections": connections,
            "publish_queue": engine.queued_publishes,
            "groups": groups,
            "audit_dropped": self.dropped,
        }

    async def publish_metrics_every(self, interval_ms: int, connections: Any) -> None:
        engine = self._engine
        if engine is None:
            raise RuntimeError("attach the engine before publishing metrics")
        while True:
            await asyncio.sleep(interval_ms / 1000)
            self.offer(METRICS_TOPIC, self.snapshot(engine, len(connections)), key=self._broker_id)


class AuditHooks(EngineHooks):
    """Engine hooks that sample audit records into the system publisher."""

    def __init__(self, publisher: SystemPublisher, sample: float, now_ms: Any) -> None:
        self._publisher = publisher
        self._sample = sample
        self._now_ms = now_ms

    def _take(self, topic: str) -> bool:
        return (
            self._sample > 0
            and not topic.startswith(SYSTEM_PREFIX)
            and (self._sample >= 1 or random.random() < self._sample)
        )

    def _record(self, action: str, topic: str, **fields: Any) -> None:
        self._publisher.offer(
            AUDIT_TOPIC, {"action": action, "topic": topic, "ts": self._now_ms(), **fields}
        )

    def published(
        self, results: Sequence[AppendResult], requests: Sequence[PublishRequest]
    ) -> None:
        for result, request in zip(results, requests, strict=True):
            if self._take(request.topic):
                self._record(
                    "publish",
                    request.topic,
                    partition=result.partition,
                    offset=result.offset,
                    id=result.id,
                    duplicate=result.duplicate,
                )

    def acked(self, topic: str, group: str, partition: int, event_ts_ms: int, now_ms: int) -> None:
        if self._take(topic):
            self._record("ack", topic, group=group, partition=partition)

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        if self._take(topic):
            self._record("redelivery", topic, group=group, partition=partition, reason=reason)

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        # Dead-lettering is rare and always worth a record.
        if not topic.startswith(SYSTEM_PREFIX):
            self._record("dead_letter", topic, group=group, partition=partition, reason=reason)
