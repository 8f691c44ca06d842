"""Route each message to the handlers of its topic and keep the books:
metrics, in-flight work (for liveness and drain) and the job timer.

A message goes to every handler that declared its topic, one after the
other; it is acked when all returned and nacked (redelivered to all of
them) when one raised, so handlers must be idempotent, as anything
at-least-once must be.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promethean.client.types import Message
from promethean.projectors.contract import PartitionHandler
from promethean.runtime.health import JobTimer, Progress
from promethean_worker.metrics import WorkerMetrics

log = logging.getLogger("promethean.worker")


class DrainingError(RuntimeError):
    """A message arrived after intake stopped; it is given back."""


@dataclass(frozen=True, slots=True)
class BoundHandler:
    name: str
    handler: PartitionHandler


class Dispatcher:
    def __init__(
        self,
        routes: Mapping[str, Sequence[BoundHandler]],
        metrics: WorkerMetrics,
        progress: Progress,
        timer: JobTimer,
    ) -> None:
        self.routes = {topic: tuple(handlers) for topic, handlers in routes.items()}
        self._metrics = metrics
        self._progress = progress
        self._timer = timer
        self._tokens = itertools.count()
        self._inflight: dict[int, float] = {}
        self.accepting = True
        self.processed = 0

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def oldest_inflight_s(self) -> float:
        """Seconds the longest-running handler call has been running; 0 when idle."""
        if not self._inflight:
            return 0.0
        return time.monotonic() - min(self._inflight.values())

    async def __call__(self, message: Message) -> None:
        if not self.accepting:
            raise DrainingError("the worker is draining")
        token = next(self._tokens)
        started = time.monotonic()
        self._inflight[token] = started
        self._metrics.inflight.set(len(self._inflight))
        try:
            for bound in self.routes.get(message.topic, ()):
                await self._run(bound, message)
        finally:
            del self._inflight[token]
            self._metrics.inflight.set(len(self._inflight))
            self._timer.observe((time.monotonic() - started) * 1000)
            self._progress.tick()
        self.processed += 1

    async def _run(self, bound: BoundHandler, message: Message) -> None:
        labels = (message.topic, bound.name)
        started = time.perf_counter()
        try:
            await bound.handler.handle(message)
        except Exception:
            self._metrics.failed.labels(*labels).inc()
            raise
        finally:
            self._metrics.handler_seconds.labels(*labels).observe(time.perf_counter() - started)
        self._metrics.processed.labels(*labels).inc()

    async def assigned(self, topic: str, partitions: frozenset[int]) -> None:
        for bound in self.routes.get(topic, ()):
            await bound.handler.on_assigned(topic, partitions)

    async def revoked(self, topic: str, partitions: frozenset[int]) -> None:
        for bound in self.routes.get(topic, ()):
            try:
                await bound.handler.on_revoked(topic, partitions)
            except Exception:
                log.exception("on_revoked failed", extra={"topic": topic, "handler": bound.name})

    async def close(self) -> None:
        seen: set[int] = set()
        for handlers in self.routes.values():
            for bound in handlers:
                if id(bound.handler) in seen:
                    continue
                seen.add(id(bound.handler))
                try:
                    await bound.handler.close()
                except Exception:
                    log.exception("handler close failed", extra={"handler": bound.name})
