"""MockConfig validation and defaults; topic patterns of faults."""

from __future__ import annotations

import pytest

from promethean.bus import EngineConfig
from promethean.client.mock.patterns import topic_matches
from promethean.testing import DeliveryMode, MockConfig, Ordering, Overflow


def test_defaults_match_the_brokers_defaults() -> None:
    engine = MockConfig().engine_config()
    defaults = EngineConfig()
    assert (engine.default_partitions, engine.default_max_attempts) == (
        defaults.default_partitions,
        defaults.default_max_attempts,
    )
    assert (engine.ack_timeout_ms, engine.max_inflight) == (
        defaults.ack_timeout_ms,
        defaults.max_inflight,
    )


def test_knobs_map_to_the_engine_config() -> None:
    config = MockConfig(partitions=3, max_attempts=2, ack_timeout_ms=500, max_inflight=7)
    engine = config.engine_config()
    assert (engine.default_partitions, engine.default_max_attempts) == (3, 2)
    assert (engine.ack_timeout_ms, engine.max_inflight) == (500, 7)


def test_string_values_become_enums() -> None:
    config = MockConfig(mode="scheduled", ordering="shuffle", overflow="drop-oldest")  # type: ignore[arg-type]
    assert config.mode is DeliveryMode.SCHEDULED
    assert config.ordering is Ordering.SHUFFLE
    assert config.overflow is Overflow.DROP_OLDEST


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("partitions", 0, "partitions must be at least 1"),
        ("buffer_size", 0, "buffer_size must be at least 1"),
        ("drop_rate", 1.5, r"drop_rate must lie in \[0, 1\]"),
        ("ack_timeout_ms", 0, "ack_timeout_ms must be positive"),
        ("redelivery_backoff_ms", -1, "redelivery_backoff_ms"),
    ],
)
def test_bad_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MockConfig(**{field: value})  # type: ignore[arg-type]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="explode"):
        MockConfig(overflow="explode")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("orders", "orders", True),
        ("orders", "orders.created", False),
        ("orders.*", "orders.created", True),
        ("orders.*", "orders", False),
        ("orders.*", "orders.created.eu", False),
        ("orders.**", "orders.created.eu", True),
        ("orders.**", "orders", True),
        ("**", "anything.at.all", True),
        ("*.DLQ", "orders.DLQ", True),
        ("**.DLQ", "orders.created.DLQ", True),
        ("**.DLQ", "orders.created", False),
    ],
)
def test_topic_patterns(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected
