"""The drainer's settings: defaults, every variable, one-line refusals."""

from __future__ import annotations

import pytest

from promethean.errors import SettingsError
from promethean_outbox_drainer.durations import parse_duration_ms
from promethean_outbox_drainer.settings import DrainerSettings


def test_defaults() -> None:
    settings = DrainerSettings.from_env({})
    assert settings.port == 7071
    assert settings.bus_url == "ws://127.0.0.1:7070/ws"
    assert (settings.poll_ms, settings.batch, settings.lease_ms) == (500, 256, 30_000)
    assert (settings.max_attempts, settings.backoff_ms, settings.backoff_max_ms) == (
        10,
        1_000,
        300_000,
    )
    assert settings.retention_ms == 24 * 3_600_000
    assert settings.store_url == "sqlite:///.promethean/bus.db"


def test_every_variable_is_read() -> None:
    settings = DrainerSettings.from_env(
        {
            "PROMETHEAN_OUTBOX_DRAINER_PORT": "9000",
            "BUS_URL": "wss://bus.internal:7443/ws",
            "PROMETHEAN_OUTBOX_POLL_MS": "20",
            "PROMETHEAN_OUTBOX_BATCH": "50",
            "PROMETHEAN_OUTBOX_LEASE_MS": "2000",
            "PROMETHEAN_OUTBOX_MAX_ATTEMPTS": "4",
            "PROMETHEAN_OUTBOX_BACKOFF_MS": "10",
            "PROMETHEAN_OUTBOX_BACKOFF_MAX_MS": "80",
            "PROMETHEAN_OUTBOX_RETENTION": "7d",
            "PROMETHEAN_DRAINER_ID": "drainer-0",
            "MONGO_URL": "mongodb://user:pw@db:27017",
            "PROMETHEAN_BROKER_TOKEN": "s3cret",
        }
    )
    assert settings.port == 9000
    assert settings.bus_url == "wss://bus.internal:7443/ws"
    assert (settings.poll_ms, settings.batch, settings.lease_ms) == (20, 50, 2000)
    assert (settings.max_attempts, settings.backoff_ms, settings.backoff_max_ms) == (4, 10, 80)
    assert settings.retention_ms == 7 * 86_400_000
    assert settings.drainer_id == "drainer-0"
    assert settings.store_url == "mongodb://user:pw@db:27017/promethean"
    shown = repr(settings)
    assert "pw" not in shown
    assert "s3cret" not in shown


def test_without_bus_url_the_local_broker_port_is_used() -> None:
    assert DrainerSettings.from_env({"BUS_PORT": "7100"}).bus_url == "ws://127.0.0.1:7100/ws"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("0", 0),
        ("500ms", 500),
        ("90s", 90_000),
        ("15m", 900_000),
        ("24h", 86_400_000),
        ("7D", 604_800_000),
        ("2 h", 7_200_000),
    ],
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["86400", "1.5h", "-1s", "h", "1w", "forever"])
def test_durations_need_a_unit(text: str) -> None:
    assert parse_duration_ms(text) is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PROMETHEAN_OUTBOX_RETENTION", "86400", "a duration like 500ms"),
        ("PROMETHEAN_OUTBOX_RETENTION", "400d", "at most"),
        ("PROMETHEAN_OUTBOX_BATCH", "0", "an integer from 1 to 10000"),
        ("PROMETHEAN_OUTBOX_POLL_MS", "5", "from 10 to 60000"),
        ("PROMETHEAN_OUTBOX_LEASE_MS", "abc", "whole number of milliseconds"),
        ("PROMETHEAN_OUTBOX_MAX_ATTEMPTS", "0", "from 1 to 1000"),
        ("PROMETHEAN_OUTBOX_BACKOFF_MAX_MS", "10", "at least PROMETHEAN_OUTBOX_BACKOFF_MS"),
        ("PROMETHEAN_DRAINER_ID", "a b", "1 to 128 characters"),
        ("BUS_URL", "http://broker:7070", "ws://, wss://"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        DrainerSettings.from_env({variable: value})
    assert raised.value.variable == variable
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)
