"""The drainer's Prometheus metrics, on a registry of its own.

Row counts (pending, claimed, published, failed) and the age of the oldest
pending row describe the whole outbox, as read from the store; the counters
and the latency histograms describe what this replica did.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from promethean.store.records import OutboxStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELAY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class DrainerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Gauge(
            "promethean_outbox_rows",
            "Outbox rows by status (claimed: pending rows under a live lease)",
            ["status"],
            registry=registry,
        )
        self.oldest_pending_age = Gauge(
            "promethean_outbox_oldest_pending_age_seconds",
            "Age of the oldest row not yet published (0 when none)",
            registry=registry,
        )
        self.published = Counter(
            "promethean_outbox_published",
            "Rows this drainer published and marked published",
            registry=registry,
        )
        self.retried = Counter(
            "promethean_outbox_retries",
            "Publishes the broker refused, to be retried after a backoff",
            registry=registry,
        )
        self.failed = Counter(
            "promethean_outbox_failed",
            "Rows this drainer gave up on and sent to outbox.DLQ",
            registry=registry,
        )
        self.claimed = Counter(
            "promethean_outbox_claimed",
            "Rows this drainer claimed",
            registry=registry,
        )
        self.unavailable = Counter(
            "promethean_outbox_broker_unavailable",
            "Publishes that failed because the broker could not be reached",
            registry=registry,
        )
        self.publish_latency = Histogram(
            "promethean_outbox_publish_latency_seconds",
            "Time from sending a claimed batch to the broker until it was durable",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.delivery_delay = Histogram(
            "promethean_outbox_delay_seconds",
            "Time from a row's creation until it was published",
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.purged = Counter(
            "promethean_outbox_purged",
            "Published rows deleted after PROMETHEAN_OUTBOX_RETENTION",
            registry=registry,
        )

    def observe_stats(self, stats: OutboxStats, now_ms: int) -> None:
        self.rows.labels("pending").set(stats.pending)
        self.rows.labels("claimed").set(stats.claimed)
        self.rows.labels("published").set(stats.published)
        self.rows.labels("failed").set(stats.failed)
        oldest = stats.oldest_pending_created_ms
        self.oldest_pending_age.set(0 if oldest is None else max(0, now_ms - oldest) / 1000)
