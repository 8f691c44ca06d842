"""One pass over the outbox: claim a batch with a lease, publish it, settle
each row. (The drainer's "drain" is its shutdown, not a pass.)

Concurrent drainers never hold the same row (`Store.outbox_claim` is atomic);
a drainer that dies leaves its rows claimed until the lease lapses, then
anyone claims them again and publishes them with the same ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from promethean.client.port import BusClient
from promethean.clock import Clock
from promethean.store.port import OutboxStore
from promethean.store.records import OutboxRow
from promethean_outbox_drainer.metrics import DrainerMetrics
from promethean_outbox_drainer.publishing import (
    Outcome,
    PublishResult,
    backoff_ms,
    publish_dlq,
    publish_row,
)

log = logging.getLogger("promethean.outbox_drainer")


@dataclass(frozen=True, slots=True)
class PassConfig:
    claimer: str
    batch: int
    lease_ms: int
    max_attempts: int
    backoff_ms: int
    backoff_max_ms: int


@dataclass(slots=True)
class PassResult:
    """What one pass did, by row count."""

    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    unavailable: int = 0
    lost_claims: int = 0
    """Rows published whose claim had already passed to another drainer."""
    elapsed_ms: float = 0.0


class OutboxPass:
    """Runs one pass per `run` call; `inflight` counts the rows of the pass under way."""

    def __init__(
        self,
        store: OutboxStore,
        bus: BusClient,
        config: PassConfig,
        clock: Clock,
        metrics: DrainerMetrics | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.inflight = 0
        """Rows claimed by the pass under way (for the heartbeat)."""

    async def run(self) -> PassResult:
        """Claim up to one batch and settle it; an empty result when nothing is due."""
        started = time.monotonic()
        cfg = self.config
        rows = await self.store.outbox_claim(
            cfg.claimer, cfg.batch, cfg.lease_ms, self.clock.now_ms()
        )
        result = PassResult(claimed=len(rows))
        if not rows:
            return result
        self.inflight = len(rows)
        try:
            await self._settle(rows, result)
        finally:
            self.inflight = 0
        result.elapsed_ms = (time.monotonic() - started) * 1000
        if self.metrics is not None:
            _count(self.metrics, result)
        return result

    async def _settle(self, rows: list[OutboxRow], result: PassResult) -> None:
        sent = time.monotonic()
        outcomes = await asyncio.gather(*(publish_row(self.bus, row) for row in rows))
        publish_s = time.monotonic() - sent
        published = [o.row for o in outcomes if o.outcome is Outcome.PUBLISHED]
        now_ms = self.clock.now_ms()
        if published:
            marked = await self.store.outbox_mark_published(
                self.config.claimer, [row.id for row in published], now_ms
            )
            result.published = len(published)
            result.lost_claims = len(published) - marked
            if self.metrics is not None:
                self.metrics.publish_latency.observe(publish_s)
                for row in published:
                    self.metrics.delivery_delay.observe(max(0, now_ms - row.created_ms) / 1000)
        for outcome in outcomes:
            if outcome.outcome is Outcome.UNAVAILABLE:
                result.unavailable += 1
            elif outcome.outcome is not Outcome.PUBLISHED:
                await self._failed(outcome, result)

    async def _failed(self, outcome: PublishResult, result: PassResult) -> None:
        cfg = self.config
        row = outcome.row
        attempts = row.attempts + 1
        if outcome.outcome is Outcome.REFUSED and attempts < cfg.max_attempts:
            delay = backoff_ms(attempts, cfg.backoff_ms, cfg.backoff_max_ms)
            await self.store.outbox_mark_retry(
                cfg.claimer, row.id, outcome.error, self.clock.now_ms() + delay
            )
            result.retried += 1
            log.warning(
                "outbox row refused; retrying after backoff",
                extra={
                    "row_id": row.id,
                    "topic": row.topic,
                    "attempt": attempts,
                    "retry_in_ms": delay,
                    "error": outcome.error,
                },
            )
            return
        try:
            await publish_dlq(self.bus, row, outcome.error, attempts, cfg.claimer)
        except Exception as error:
            # The claim lapses and the row is tried again; the DLQ record's
            # derived id keeps a second copy out of the log.
            result.unavailable += 1
            log.warning(
                "outbox row could not be dead-lettered yet",
                extra={"row_id": row.id, "error": repr(error)},
            )
            return
        await self.store.outbox_mark_failed(cfg.claimer, row.id, outcome.error)
        result.failed += 1
        log.error(
            "outbox row failed; sent to outbox.DLQ",
            extra={
                "row_id": row.id,
                "topic": row.topic,
                "attempts": attempts,
                "error": outcome.error,
            },
        )


def _count(metrics: DrainerMetrics, result: PassResult) -> None:
    metrics.claimed.inc(result.claimed)
    metrics.published.inc(result.published - result.lost_claims)
    metrics.retried.inc(result.retried)
    metrics.failed.inc(result.failed)
    metrics.unavailable.inc(result.unavailable)
