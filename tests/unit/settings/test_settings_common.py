"""CommonSettings: the fields every service shares."""

from __future__ import annotations

import logging

import pytest

from promethean.errors import SettingsError
from promethean.runtime.gc_pacing import GcPacing
from promethean.settings import CommonSettings, LogLevel, Secret


def test_defaults() -> None:
    common = CommonSettings.from_env({}, service="gateway")
    assert common == CommonSettings(service="gateway")
    assert common.service == "gateway"
    assert common.log_level is LogLevel.INFO
    assert common.host == "0.0.0.0"
    assert common.broker_token is None
    assert common.dev is False
    assert common.drain_ms == 10_000
    assert common.liveness_max_stall_ms == 30_000
    assert common.disconnect_kill_ms == 60_000
    assert common.heartbeat_ms == 3_000
    assert common.gc_pacing == GcPacing(freeze_ms=5_000, sweep_ms=600_000)


def test_every_variable_is_read() -> None:
    common = CommonSettings.from_env(
        {
            "PROMETHEAN_LOG_LEVEL": "DEBUG",
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_BROKER_TOKEN": "tok-123",
            "PROMETHEAN_DEV": "yes",
            "PROMETHEAN_DRAIN_MS": "2500",
            "PROMETHEAN_LIVENESS_MAX_STALL_MS": "5000",
            "PROMETHEAN_DISCONNECT_KILL_MS": "7000",
            "PROMETHEAN_HEARTBEAT_MS": "250",
            "PROMETHEAN_GC_FREEZE_MS": "0",
            "PROMETHEAN_GC_SWEEP_MS": "60000",
        },
        service="broker",
    )
    assert common == CommonSettings(
        service="broker",
        log_level=LogLevel.DEBUG,
        host="127.0.0.1",
        broker_token=Secret("tok-123"),
        dev=True,
        drain_ms=2500,
        liveness_max_stall_ms=5000,
        disconnect_kill_ms=7000,
        heartbeat_ms=250,
        gc_freeze_ms=0,
        gc_sweep_ms=60_000,
    )
    assert not common.gc_pacing.enabled


@pytest.mark.parametrize(
    ("level", "number"),
    [
        (LogLevel.DEBUG, logging.DEBUG),
        (LogLevel.INFO, logging.INFO),
        (LogLevel.WARNING, logging.WARNING),
        (LogLevel.ERROR, logging.ERROR),
    ],
)
def test_log_level_maps_to_the_logging_module(level: LogLevel, number: int) -> None:
    assert level.logging_level == number


def test_unknown_log_level_lists_the_choices() -> None:
    with pytest.raises(SettingsError) as caught:
        CommonSettings.from_env({"PROMETHEAN_LOG_LEVEL": "trace"}, service="broker")
    assert str(caught.value) == (
        "PROMETHEAN_LOG_LEVEL=trace is invalid: one of debug, info, warning, error"
    )


def test_repr_masks_the_broker_token() -> None:
    common = CommonSettings.from_env({"PROMETHEAN_BROKER_TOKEN": "tok-123"}, service="broker")
    assert "tok-123" not in repr(common)
    assert "broker_token=***" in repr(common)


@pytest.mark.parametrize("value", ["1", "999"])
def test_gc_freeze_is_off_or_at_least_a_second(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CommonSettings.from_env({"PROMETHEAN_GC_FREEZE_MS": value}, service="gateway")
    assert str(caught.value) == (
        f"PROMETHEAN_GC_FREEZE_MS={value} is invalid: "
        "0 (off) or a whole number of milliseconds from 1000 to 3600000"
    )
