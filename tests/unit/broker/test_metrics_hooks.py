"""The engine hooks of `BrokerMetrics`: the series they export, whether an
observation finds its label child cached or not, and the label cap's
overflow count per observation."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.bus import PublishRequest
from promethean.store.records import AppendResult
from promethean_broker.metrics import BrokerMetrics


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_published_counts_each_event_once_per_topic_and_kind() -> None:
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry)
    requests = [PublishRequest(t, b"{}") for t in ("a", "b", "a", "a")]
    results = [AppendResult(0, n, str(n), duplicate=n == 2) for n in range(4)]
    metrics.published(results, requests)
    metrics.published(results, requests)
    assert _value(registry, "promethean_published_total", topic="a") == 4
    assert _value(registry, "promethean_published_total", topic="b") == 2
    assert _value(registry, "promethean_publish_duplicates_total", topic="a") == 2


def test_repeated_acks_and_deliveries_add_up_on_one_series() -> None:
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry)
    for _ in range(3):
        metrics.delivered("orders", "billing", 0, 1)
        metrics.acked("orders", "billing", 0, 1_000, 1_250)
    metrics.dead_lettered("orders", "billing", 0, "nack")
    assert _value(registry, "promethean_delivered_total", topic="orders", group="billing") == 3
    assert _value(registry, "promethean_acked_total", topic="orders", group="billing") == 3
    assert _value(registry, "promethean_end_to_end_ack_seconds_count", topic="orders") == 3
    assert _value(registry, "promethean_end_to_end_ack_seconds_sum", topic="orders") == 0.75
    assert _value(registry, "promethean_dead_lettered_total", topic="orders", group="billing") == 1


def test_folded_label_sets_count_every_observation_on_the_overflow_counter() -> None:
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry, max_label_sets=1)
    metrics.acked("kept", "g", 0, 0, 0)
    for _ in range(3):
        metrics.acked("folded", "g", 0, 0, 0)
    requests = [PublishRequest("kept", b"{}"), *(PublishRequest("new", b"{}") for _ in range(4))]
    metrics.published([AppendResult(0, n, str(n)) for n in range(5)], requests)
    assert _value(registry, "promethean_acked_total", topic="_other", group="_other") == 3
    assert _value(registry, "promethean_metric_label_overflow_total", metric="acked") == 3
    assert _value(registry, "promethean_published_total", topic="_other") == 4
    assert _value(registry, "promethean_metric_label_overflow_total", metric="published") == 4
