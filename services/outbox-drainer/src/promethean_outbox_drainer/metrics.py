"""The drainer's Prometheus metrics, on a registry of its own.

Row counts (pending, claimed, published, failed) and the age of the oldest
pending row describe the whole outbox, as read from the store; the counters
and the latency histograms describe what this replica did.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.runtime.metrics import JOB_BUCKETS, MetricSet
from promethean.store.records import OutboxStats

DELAY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class DrainerMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.rows = self.gauge(
            "promethean_outbox_rows",
            "Outbox rows by status (claimed: pending rows under a live lease)",
            ["status"],
        )
        self.oldest_pending_age = self.gauge(
            "promethean_outbox_oldest_pending_age_seconds",
            "Age of the oldest row not yet published (0 when none)",
        )
        self.published = self.counter(
            "promethean_outbox_published", "Rows this drainer published and marked published"
        )
        self.retried = self.counter(
            "promethean_outbox_retries",
            "Publishes the broker refused, to be retried after a backoff",
        )
        self.failed = self.counter(
            "promethean_outbox_failed", "Rows this drainer gave up on and sent to outbox.DLQ"
        )
        self.claimed = self.counter("promethean_outbox_claimed", "Rows this drainer claimed")
        self.unavailable = self.counter(
            "promethean_outbox_broker_unavailable",
            "Publishes that failed because the broker could not be reached",
        )
        self.publish_latency = self.histogram(
            "promethean_outbox_publish_latency_seconds",
            "Time from sending a claimed batch to the broker until it was durable",
            buckets=JOB_BUCKETS,
        )
        self.delivery_delay = self.histogram(
            "promethean_outbox_delay_seconds",
            "Time from a row's creation until it was published",
            buckets=DELAY_BUCKETS,
        )
        self.purged = self.counter(
            "promethean_outbox_purged", "Published rows deleted after PROMETHEAN_OUTBOX_RETENTION"
        )

    def observe_stats(self, stats: OutboxStats, now_ms: int) -> None:
        self.rows.labels("pending").set(stats.pending)
        self.rows.labels("claimed").set(stats.claimed)
        self.rows.labels("published").set(stats.published)
        self.rows.labels("failed").set(stats.failed)
        oldest = stats.oldest_pending_created_ms
        self.oldest_pending_age.set(0 if oldest is None else max(0, now_ms - oldest) / 1000)
