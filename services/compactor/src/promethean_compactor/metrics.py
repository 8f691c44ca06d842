"""The compactor's Prometheus metrics, on an explicit registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PASS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class CompactorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.scanned = Counter(
            "promethean_compactor_events_scanned",
            "Events stored in a partition when a compaction of it started",
            ["topic"],
            registry=registry,
        )
        self.removed = Counter(
            "promethean_compactor_events_removed",
            "Events removed, by reason: compaction, tombstone, retention",
            ["topic", "reason"],
            registry=registry,
        )
        self.retention_skipped = Counter(
            "promethean_compactor_retention_skipped_events",
            "Events a group had not consumed when forced retention removed them",
            ["topic", "group"],
            registry=registry,
        )
        self.snapshots = Counter(
            "promethean_compactor_snapshots",
            "Snapshots published",
            ["topic"],
            registry=registry,
        )
        self.pass_duration = Histogram(
            "promethean_compactor_pass_seconds",
            "Duration of one pass over every topic",
            buckets=PASS_BUCKETS,
            registry=registry,
        )
        self.passes = Counter(
            "promethean_compactor_passes",
            "Passes by result: done, failed, interrupted (leadership lost)",
            ["result"],
            registry=registry,
        )
        self.leader = Gauge(
            "promethean_compactor_leader",
            "1 while this replica holds the compactor lease",
            registry=registry,
        )
        self.lease_token = Gauge(
            "promethean_compactor_lease_token",
            "Fencing token of the lease this replica holds (0 on a standby)",
            registry=registry,
        )
