"""Outbox statistics for the metrics, and the purge of published rows older
than ``PROMETHEAN_OUTBOX_RETENTION``. Every replica does both: the counts are
cheap and a purge by two replicas at once deletes each row once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from promethean.clock import Clock
from promethean.runtime.health import Readiness
from promethean.store.port import OutboxStore
from promethean_outbox_drainer.metrics import DrainerMetrics

log = logging.getLogger("promethean.outbox_drainer")

STATS_EVERY_S: Final = 1.0
PURGE_MIN_S: Final = 1.0
PURGE_MAX_S: Final = 60.0


def purge_interval_s(retention_ms: int) -> float:
    """A tenth of the retention, between one second and one minute."""
    return min(PURGE_MAX_S, max(PURGE_MIN_S, retention_ms / 10_000))


class Housekeeping:
    def __init__(
        self,
        store: OutboxStore,
        metrics: DrainerMetrics,
        clock: Clock,
        readiness: Readiness,
        retention_ms: int,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.readiness = readiness
        self.retention_ms = retention_ms
        self.pending = 0
        """Pending rows at the last count (the heartbeat's ``queue``)."""

    async def refresh_stats(self) -> None:
        now_ms = self.clock.now_ms()
        stats = await self.store.outbox_stats(now_ms)
        self.pending = stats.pending + stats.claimed
        self.metrics.observe_stats(stats, now_ms)

    async def purge(self) -> int:
        deleted = await self.store.outbox_purge(self.clock.now_ms() - self.retention_ms)
        if deleted:
            self.metrics.purged.inc(deleted)
            log.info("purged published outbox rows", extra={"rows": deleted})
        return deleted

    async def run(self) -> None:
        every_s = purge_interval_s(self.retention_ms)
        next_purge = time.monotonic()
        while True:
            try:
                await self.refresh_stats()
                if time.monotonic() >= next_purge:
                    await self.purge()
                    next_purge = time.monotonic() + every_s
            except Exception as error:
                self.readiness.fail("store", f"outbox housekeeping failed: {error}")
                log.warning("outbox housekeeping failed", extra={"error": repr(error)})
            await asyncio.sleep(STATS_EVERY_S)
