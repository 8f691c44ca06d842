"""Broker metric labels: NACK reasons classified, label sets capped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean_broker.labels import LabelCap, classify_reason
from promethean_broker.metrics import BrokerMetrics


def test_reasons_fall_into_the_fixed_set() -> None:
    assert classify_reason("nack") == "nack"
    assert classify_reason("ack_timeout") == "ack_timeout"
    assert classify_reason("closed") == "disconnected"
    assert classify_reason("slow consumer") == "slow_consumer"
    assert classify_reason("card 4111 declined") == "other"


def test_the_cap_folds_new_sets_into_other_and_counts_them() -> None:
    registry = CollectorRegistry()
    cap = LabelCap(registry, max_sets=2)
    assert cap.labels("m", ("a", "g")) == ("a", "g")
    assert cap.labels("m", ("b", "g")) == ("b", "g")
    assert cap.labels("m", ("c", "g")) == ("_other", "_other")
    assert cap.labels("m", ("a", "g")) == ("a", "g"), "known sets keep passing"
    assert cap.labels("n", ("c", "g")) == ("c", "g"), "each metric has its own cap"
    overflow = registry.get_sample_value("promethean_metric_label_overflow_total", {"metric": "m"})
    assert overflow == 1


def test_a_nack_reason_never_reaches_a_label() -> None:
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry)
    metrics.redelivery("orders", "billing", 0, "user 7: card 4111 declined")
    reasons = {
        sample.labels.get("reason")
        for family in registry.collect()
        if family.name == "promethean_redelivered"
        for sample in family.samples
    }
    assert reasons == {"other"}
