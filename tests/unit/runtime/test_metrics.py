"""`MetricSet`: a service's families, declared one call each, on its registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.runtime.metrics import JOB_BUCKETS, MetricSet


class ProbeMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.done = self.counter("promethean_probe_done", "Jobs done", ["topic"])
        self.running = self.gauge("promethean_probe_running", "Jobs running")
        self.seconds = self.histogram("promethean_probe_seconds", "Job time", buckets=JOB_BUCKETS)


def test_families_land_on_the_registry_given() -> None:
    registry = CollectorRegistry()
    metrics = ProbeMetrics(registry)
    metrics.done.labels("t").inc()
    metrics.running.set(2)
    metrics.seconds.observe(0.02)
    assert metrics.registry is registry
    assert registry.get_sample_value("promethean_probe_done_total", {"topic": "t"}) == 1
    assert registry.get_sample_value("promethean_probe_running") == 2
    assert registry.get_sample_value("promethean_probe_seconds_bucket", {"le": "0.025"}) == 1
    assert registry.get_sample_value("promethean_probe_seconds_bucket", {"le": "30.0"}) == 1


def test_each_registry_holds_its_own_families() -> None:
    one, other = ProbeMetrics(CollectorRegistry()), ProbeMetrics(CollectorRegistry())
    one.running.set(1)
    assert other.registry.get_sample_value("promethean_probe_running") == 0
