"""The worker's Prometheus metrics, on the registry the service owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.runtime.metrics import JOB_BUCKETS, MetricSet


class WorkerMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.owned_partitions = self.gauge(
            "promethean_worker_owned_partitions",
            "Partitions of the topic this instance owns in its group",
            ["topic", "group"],
        )
        self.processed = self.counter(
            "promethean_worker_processed",
            "Messages a handler finished without raising",
            ["topic", "handler"],
        )
        self.failed = self.counter(
            "promethean_worker_failed",
            "Messages a handler raised on (nacked, redelivered)",
            ["topic", "handler"],
        )
        self.handler_seconds = self.histogram(
            "promethean_worker_handler_seconds",
            "Time one handler took for one message",
            ["topic", "handler"],
            buckets=JOB_BUCKETS,
        )
        self.lag = self.gauge(
            "promethean_worker_lag",
            "Events of an owned partition not yet committed by the group",
            ["topic", "partition", "group"],
        )
        self.rebalances = self.counter(
            "promethean_worker_rebalances",
            "Assignment changes this instance went through",
            ["topic", "group"],
        )
        self.inflight = self.gauge("promethean_worker_inflight", "Messages being handled right now")
        self.broker_connected = self.gauge(
            "promethean_worker_broker_connected", "1 while the worker is connected to the broker"
        )
