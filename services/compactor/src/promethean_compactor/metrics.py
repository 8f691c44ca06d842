"""The compactor's Prometheus metrics, on an explicit registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.runtime.metrics import MetricSet

PASS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class CompactorMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.scanned = self.counter(
            "promethean_compactor_events_scanned",
            "Events stored in a partition when a compaction of it started",
            ["topic"],
        )
        self.removed = self.counter(
            "promethean_compactor_events_removed",
            "Events removed, by reason: compaction, tombstone, retention",
            ["topic", "reason"],
        )
        self.retention_skipped = self.counter(
            "promethean_compactor_retention_skipped_events",
            "Events a group had not consumed when forced retention removed them",
            ["topic", "group"],
        )
        self.snapshots = self.counter(
            "promethean_compactor_snapshots", "Snapshots published", ["topic"]
        )
        self.pass_duration = self.histogram(
            "promethean_compactor_pass_seconds",
            "Duration of one pass over every topic",
            buckets=PASS_BUCKETS,
        )
        self.passes = self.counter(
            "promethean_compactor_passes",
            "Passes by result: done, failed, interrupted (leadership lost)",
            ["result"],
        )
        self.leader = self.gauge(
            "promethean_compactor_leader", "1 while this replica holds the compactor lease"
        )
        self.lease_token = self.gauge(
            "promethean_compactor_lease_token",
            "Fencing token of the lease this replica holds (0 on a standby)",
        )
