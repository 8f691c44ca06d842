"""BrokerSettings: defaults, every bound, cross-field rules, no secret in repr."""

from __future__ import annotations

import os
import socket
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from promethean.errors import SettingsError
from promethean.settings import LogLevel
from promethean_broker.settings import BrokerSettings


def attribute(settings: BrokerSettings, path: str) -> Any:
    value: Any = settings
    for name in path.split("."):
        value = getattr(value, name)
    return value


def test_defaults() -> None:
    settings = BrokerSettings.from_env({})
    assert settings.common.service == "broker"
    assert settings.common.log_level is LogLevel.INFO
    assert settings.common.host == "0.0.0.0"
    assert settings.common.broker_token is None
    assert settings.port == 7070
    assert settings.store_url == "sqlite:///.promethean/bus.db"
    assert settings.ack_timeout_ms == 30_000
    assert settings.max_inflight == 256
    assert settings.default_partitions == 12
    assert settings.max_attempts == 5
    assert settings.redelivery_backoff_ms == 0
    assert settings.redelivery_backoff_max_ms == 60_000
    assert settings.max_connections == 10_000
    assert settings.max_frame_bytes == 1_048_576
    assert settings.send_buffer_bytes == 8_388_608
    assert settings.lease_ttl_ms == 10_000
    assert settings.commit_interval_ms == 100
    assert settings.append_batch_max == 512
    assert settings.publish_queue_max == 20_000
    assert settings.audit_sample == 0.0
    assert settings.system_metrics_ms == 10_000
    assert settings.broker_id == f"{socket.gethostname()}-{os.getpid()}"


def test_constructed_defaults_match_the_environment_defaults() -> None:
    from_env = BrokerSettings.from_env({})
    assert BrokerSettings(broker_id=from_env.broker_id) == from_env


def test_settings_are_frozen() -> None:
    settings = BrokerSettings.from_env({})
    with pytest.raises(FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


# (variable, attribute, lowest allowed, highest allowed, other variables the extremes need)
BOUNDS: list[tuple[str, str, int, int, dict[str, str]]] = [
    ("BUS_PORT", "port", 1, 65_535, {}),
    ("BUS_ACK_TIMEOUT_MS", "ack_timeout_ms", 100, 3_600_000, {}),
    ("BUS_MAX_INFLIGHT", "max_inflight", 1, 100_000, {}),
    ("PROMETHEAN_DEFAULT_PARTITIONS", "default_partitions", 1, 1024, {}),
    ("PROMETHEAN_MAX_ATTEMPTS", "max_attempts", 1, 1000, {}),
    (
        "PROMETHEAN_REDELIVERY_BACKOFF_MS",
        "redelivery_backoff_ms",
        0,
        3_600_000,
        {"PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS": "86400000"},
    ),
    ("PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS", "redelivery_backoff_max_ms", 0, 86_400_000, {}),
    ("PROMETHEAN_MAX_CONNECTIONS", "max_connections", 1, 1_000_000, {}),
    (
        "PROMETHEAN_MAX_FRAME_BYTES",
        "max_frame_bytes",
        1024,
        16_777_216,
        {"PROMETHEAN_SEND_BUFFER_BYTES": "16777216"},
    ),
    (
        "PROMETHEAN_SEND_BUFFER_BYTES",
        "send_buffer_bytes",
        1024,
        1_073_741_824,
        {"PROMETHEAN_MAX_FRAME_BYTES": "1024"},
    ),
    ("PROMETHEAN_LEASE_TTL_MS", "lease_ttl_ms", 1000, 600_000, {}),
    ("PROMETHEAN_COMMIT_INTERVAL_MS", "commit_interval_ms", 1, 60_000, {}),
    ("PROMETHEAN_APPEND_BATCH_MAX", "append_batch_max", 1, 100_000, {}),
    ("PROMETHEAN_PUBLISH_QUEUE_MAX", "publish_queue_max", 1, 10_000_000, {}),
    ("PROMETHEAN_SYSTEM_METRICS_MS", "system_metrics_ms", 0, 3_600_000, {}),
    ("PROMETHEAN_DRAIN_MS", "common.drain_ms", 0, 3_600_000, {}),
    ("PROMETHEAN_LIVENESS_MAX_STALL_MS", "common.liveness_max_stall_ms", 1000, 3_600_000, {}),
    ("PROMETHEAN_DISCONNECT_KILL_MS", "common.disconnect_kill_ms", 1000, 86_400_000, {}),
    ("PROMETHEAN_HEARTBEAT_MS", "common.heartbeat_ms", 100, 600_000, {}),
    ("PROMETHEAN_GC_FREEZE_MS", "common.gc_freeze_ms", 0, 3_600_000, {}),
    ("PROMETHEAN_GC_SWEEP_MS", "common.gc_sweep_ms", 10_000, 86_400_000, {}),
]


@pytest.mark.parametrize(
    ("variable", "path", "low", "high", "extra"), BOUNDS, ids=[row[0] for row in BOUNDS]
)
def test_bounds_are_inclusive(
    variable: str, path: str, low: int, high: int, extra: dict[str, str]
) -> None:
    for value in (low, high):
        settings = BrokerSettings.from_env({**extra, variable: str(value)})
        assert attribute(settings, path) == value
    for value in (low - 1, high + 1):
        with pytest.raises(SettingsError) as caught:
            BrokerSettings.from_env({**extra, variable: str(value)})
        assert caught.value.variable == variable
        assert caught.value.shown_value == str(value)
        assert f"from {low} to {high}" in caught.value.allowed


@pytest.mark.parametrize(
    ("value", "ok"), [("0", True), ("1", True), ("0.05", True), ("-0.1", False), ("1.0001", False)]
)
def test_audit_sample_is_a_fraction(value: str, ok: bool) -> None:
    environ = {"PROMETHEAN_AUDIT_SAMPLE": value}
    if ok:
        assert BrokerSettings.from_env(environ).audit_sample == float(value)
    else:
        with pytest.raises(SettingsError, match=r"^PROMETHEAN_AUDIT_SAMPLE="):
            BrokerSettings.from_env(environ)


def test_backoff_max_below_backoff_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        BrokerSettings.from_env(
            {
                "PROMETHEAN_REDELIVERY_BACKOFF_MS": "5000",
                "PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS": "4999",
            }
        )
    assert str(caught.value) == (
        "PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS=4999 is invalid: "
        "at least PROMETHEAN_REDELIVERY_BACKOFF_MS (5000)"
    )


def test_send_buffer_must_hold_one_largest_frame() -> None:
    with pytest.raises(SettingsError) as caught:
        BrokerSettings.from_env(
            {"PROMETHEAN_MAX_FRAME_BYTES": "2097152", "PROMETHEAN_SEND_BUFFER_BYTES": "2097151"}
        )
    assert caught.value.variable == "PROMETHEAN_SEND_BUFFER_BYTES"
    assert caught.value.allowed == "at least PROMETHEAN_MAX_FRAME_BYTES (2097152)"


def test_broker_id_is_checked() -> None:
    assert BrokerSettings.from_env({"PROMETHEAN_BROKER_ID": "broker-0"}).broker_id == "broker-0"
    for bad in ("has space", "a/b", "x" * 129):
        with pytest.raises(SettingsError) as caught:
            BrokerSettings.from_env({"PROMETHEAN_BROKER_ID": bad})
        assert caught.value.variable == "PROMETHEAN_BROKER_ID"


def test_store_selection_prefers_promethean_store_then_mongo_url() -> None:
    mongo = {"MONGO_URL": "mongodb://db:27017", "MONGO_DB": "bus"}
    assert BrokerSettings.from_env(mongo).store_url == "mongodb://db:27017/bus"
    assert (
        BrokerSettings.from_env({**mongo, "PROMETHEAN_STORE": "memory://"}).store_url == "memory://"
    )
    assert BrokerSettings.from_env({"MONGO_URL": "mongodb://db"}).store_url == (
        "mongodb://db/promethean"
    )


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PROMETHEAN_STORE": "postgres://h/db"}, "PROMETHEAN_STORE"),
        ({"PROMETHEAN_STORE": "sqlite://"}, "PROMETHEAN_STORE"),
        ({"PROMETHEAN_STORE": "bus.db"}, "PROMETHEAN_STORE"),
        ({"MONGO_URL": "mysql://h"}, "MONGO_URL"),
        ({"MONGO_URL": "mongodb://h", "MONGO_DB": "bad/name"}, "MONGO_DB"),
    ],
)
def test_bad_store_selection_names_the_variable_that_chose_it(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        BrokerSettings.from_env(environ)
    assert caught.value.variable == variable


def test_repr_never_shows_a_secret() -> None:
    settings = BrokerSettings.from_env(
        {
            "PROMETHEAN_BROKER_TOKEN": "tok-s3cr3t",
            "MONGO_URL": "mongodb://bus:pa55word@db:27017/?replicaSet=rs0",
        }
    )
    text = repr(settings)
    assert "tok-s3cr3t" not in text
    assert "pa55word" not in text
    assert "mongodb://bus:***@db:27017/promethean?replicaSet=rs0" in text
    assert "broker_token=***" in text
    assert str(settings) == text
    assert settings.store_url == "mongodb://bus:pa55word@db:27017/promethean?replicaSet=rs0"
    assert settings.common.broker_token is not None
    assert settings.common.broker_token.reveal() == "tok-s3cr3t"
