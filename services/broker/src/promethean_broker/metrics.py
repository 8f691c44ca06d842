"""The broker's Prometheus metrics, built on an explicit registry, and the
engine hooks that feed them. Gauges that describe current state (lag,
members, in-flight, connections) are computed at scrape time by a collector.

Labels never carry client text (NACK reasons are classified) and each
metric holds a bounded number of topic/group label sets (see `labels`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, TypeVar, cast

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from promethean.bus import BusEngine, EngineHooks, PublishRequest
from promethean.bus.offline_lag import OfflineLag
from promethean.runtime.metrics import LATENCY_BUCKETS, MetricSet
from promethean.store.records import AppendResult
from promethean_broker.labels import DEFAULT_MAX_SETS, LabelCap, classify_reason

MetricT = TypeVar("MetricT", bound=MetricWrapperBase)

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class BrokerMetrics(MetricSet, EngineHooks):
    def __init__(self, registry: CollectorRegistry, max_label_sets: int = DEFAULT_MAX_SETS) -> None:
        super().__init__(registry)
        self.cap = LabelCap(registry, max_label_sets)
        self._children: dict[tuple[str, tuple[str, ...]], MetricWrapperBase] = {}
        self.published_total = self.counter(
            "promethean_published", "Events appended to the log", ["topic"]
        )
        self.duplicates_total = self.counter(
            "promethean_publish_duplicates",
            "Publishes whose id was already stored (idempotent replays)",
            ["topic"],
        )
        self.delivered_total = self.counter(
            "promethean_delivered", "Events handed to consumers", ["topic", "group"]
        )
        self.acked_total = self.counter(
            "promethean_acked", "Deliveries acknowledged", ["topic", "group"]
        )
        self.redelivered_total = self.counter(
            "promethean_redelivered",
            "Deliveries that failed and will go out again",
            ["topic", "group", "reason"],
        )
        self.dead_lettered_total = self.counter(
            "promethean_dead_lettered", "Events moved to the DLQ", ["topic", "group"]
        )
        self.publish_latency = self.histogram(
            "promethean_publish_latency_seconds",
            "From receiving a publish to its durable acknowledgement",
            buckets=LATENCY_BUCKETS,
        )
        self.ack_latency = self.histogram(
            "promethean_end_to_end_ack_seconds",
            "From an event's append to its acknowledgement by a group",
            ["topic"],
            buckets=LATENCY_BUCKETS,
        )
        self.store_batch_size = self.histogram(
            "promethean_store_write_batch_size",
            "Events per group-committed store write",
            buckets=BATCH_BUCKETS,
        )
        self.store_write_seconds = self.histogram(
            "promethean_store_write_seconds",
            "Duration of one group-committed store write",
            buckets=LATENCY_BUCKETS,
        )
        self.frame_errors = self.counter(
            "promethean_frame_errors", "ERR frames sent, by code", ["code"]
        )

    def published(
        self, results: Sequence[AppendResult], requests: Sequence[PublishRequest]
    ) -> None:
        appended: dict[str, int] = {}
        duplicates: dict[str, int] = {}
        for result, request in zip(results, requests, strict=True):
            counts = duplicates if result.duplicate else appended
            counts[request.topic] = counts.get(request.topic, 0) + 1
        for topic, count in appended.items():
            self._child("published", self.published_total, (topic,), count).inc(count)
        for topic, count in duplicates.items():
            self._child("duplicates", self.duplicates_total, (topic,), count).inc(count)

    def _child(
        self, metric: str, family: MetricT, values: tuple[str, ...], observations: int = 1
    ) -> MetricT:
        """``family``'s child for ``values``, through the label cap. Sets the
        cap let through are kept, so the next observation skips both the cap
        and prometheus_client's label lookup; folded sets are not kept, so
        each of their observations still counts on the overflow counter."""
        key = (metric, values)
        child = self._children.get(key)
        if child is not None:
            return cast(MetricT, child)
        labels = self.cap.labels(metric, values, observations)
        child = family.labels(*labels)
        if labels == values:
            self._children[key] = child
        return child

    def append_batch(self, size: int, seconds: float) -> None:
        self.store_batch_size.observe(size)
        self.store_write_seconds.observe(seconds)

    def delivered(self, topic: str, group: str, partition: int, attempt: int) -> None:
        self._child("delivered", self.delivered_total, (topic, group)).inc()

    def acked(self, topic: str, group: str, partition: int, event_ts_ms: int, now_ms: int) -> None:
        self._child("acked", self.acked_total, (topic, group)).inc()
        self._child("ack_latency", self.ack_latency, (topic,)).observe(
            max(0, now_ms - event_ts_ms) / 1000
        )

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        labels = self.cap.labels("redelivered", (topic, group))
        self.redelivered_total.labels(*labels, classify_reason(reason)).inc()

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        self._child("dead_lettered", self.dead_lettered_total, (topic, group)).inc()


class HeldPartitions(Protocol):
    """What the ownership gauge reads: this broker's id and its grants."""

    broker_id: str

    def held(self) -> Mapping[tuple[str, int], int]: ...


class EngineStateCollector(Collector):
    """Lag, members, in-flight and connection gauges read from the engine at
    scrape; lag of groups without a live member, and of partitions other
    brokers write, comes from `OfflineLag` (read from the store)."""

    def __init__(
        self,
        engine: BusEngine,
        connections: Mapping[str, object],
        offline: OfflineLag | None = None,
        ownership: HeldPartitions | None = None,
    ) -> None:
        self._engine = engine
        self._connections = connections
        self._offline = offline
        self._ownership = ownership

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "promethean_consumer_lag",
            "Events appended but not yet committed by the group",
            labels=["topic", "group", "partition"],
        )
        committed = GaugeMetricFamily(
            "promethean_committed_offset",
            "The group's committed offset",
            labels=["topic", "group", "partition"],
        )
        inflight = GaugeMetricFamily(
            "promethean_inflight", "Deliveries awaiting ack", labels=["topic", "group"]
        )
        members = GaugeMetricFamily(
            "promethean_group_members",
            "Live consumers of the group on the topic (0: a commit but nobody reading)",
            labels=["topic", "group"],
        )
        shown: set[tuple[str, ...]] = set()  # partition label sets exported: each once
        for state in self._engine.groups():
            inflight.add_metric([state.topic, state.group], state.inflight)
            members.add_metric([state.topic, state.group], len(state.subs))
            for partition, cursor in state.cursors.items():
                if not self._engine.writes(state.topic, partition):
                    continue  # another broker's: from the store, below
                labels = [state.topic, state.group, str(partition)]
                shown.add(tuple(labels))
                lag.add_metric(labels, state.lag(partition))
                committed.add_metric(labels, cursor.committed)
        omitted = GaugeMetricFamily(
            "promethean_lag_groups_omitted",
            "(group, topic) pairs without a live member whose lag is not exported (cap reached)",
        )
        if self._offline is not None:
            snapshot = self._offline.current()
            omitted.add_metric([], snapshot.omitted)
            for group in snapshot.groups:
                if not group.live:
                    members.add_metric([group.topic, group.group], 0)
                for partition, offset in group.committed.items():
                    labels = [group.topic, group.group, str(partition)]
                    if tuple(labels) in shown:
                        continue
                    high = max(
                        group.latest.get(partition, -1),
                        self._engine.high_watermark(group.topic, partition),
                    )
                    lag.add_metric(labels, max(0, high - offset))
                    committed.add_metric(labels, offset)
        latest = GaugeMetricFamily(
            "promethean_latest_offset", "Highest appended offset", labels=["topic", "partition"]
        )
        for writer in self._engine.writers():
            latest.add_metric([writer.topic, str(writer.partition)], writer.high_watermark)
        queued = GaugeMetricFamily(
            "promethean_publish_queue", "Publishes waiting for their group commit"
        )
        queued.add_metric([], self._engine.queued_publishes)
        conns = GaugeMetricFamily("promethean_connections", "Open WebSocket connections")
        conns.add_metric([], len(self._connections))
        owned = GaugeMetricFamily(
            "promethean_partitions_owned",
            "Partitions this broker holds the lease of",
            labels=["broker"],
        )
        if self._ownership is not None:
            owned.add_metric([self._ownership.broker_id], len(self._ownership.held()))
        yield from (lag, committed, inflight, members, omitted, latest, queued, conns, owned)
