"""The worker's Prometheus metrics, on the registry the service owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.owned_partitions = Gauge(
            "promethean_worker_owned_partitions",
            "Partitions of the topic this instance owns in its group",
            ["topic", "group"],
            registry=registry,
        )
        self.processed = Counter(
            "promethean_worker_processed",
            "Messages a handler finished without raising",
            ["topic", "handler"],
            registry=registry,
        )
        self.failed = Counter(
            "promethean_worker_failed",
            "Messages a handler raised on (nacked, redelivered)",
            ["topic", "handler"],
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "promethean_worker_handler_seconds",
            "Time one handler took for one message",
            ["topic", "handler"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "promethean_worker_lag",
            "Events of an owned partition not yet committed by the group",
            ["topic", "partition", "group"],
            registry=registry,
        )
        self.rebalances = Counter(
            "promethean_worker_rebalances",
            "Assignment changes this instance went through",
            ["topic", "group"],
            registry=registry,
        )
        self.inflight = Gauge(
            "promethean_worker_inflight",
            "Messages being handled right now",
            registry=registry,
        )
        self.broker_connected = Gauge(
            "promethean_worker_broker_connected",
            "1 while the worker is connected to the broker",
            registry=registry,
        )
