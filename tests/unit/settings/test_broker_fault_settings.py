"""The broker's in-flight cap and send-stall limit (issue 17, item 6)."""

from __future__ import annotations

import pytest

from promethean.errors import SettingsError
from promethean_broker.settings import BrokerSettings


def test_defaults() -> None:
    settings = BrokerSettings.from_env({})
    assert settings.max_inflight_cap == 10_000
    assert settings.send_stall_ms == 5_000


def test_an_unset_cap_follows_a_larger_default_in_flight() -> None:
    assert BrokerSettings.from_env({"BUS_MAX_INFLIGHT": "50000"}).max_inflight_cap == 50_000


def test_the_cap_is_read() -> None:
    settings = BrokerSettings.from_env({"PROMETHEAN_MAX_INFLIGHT_CAP": "300"})
    assert settings.max_inflight_cap == 300


def test_a_cap_below_the_default_in_flight_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_MAX_INFLIGHT_CAP"):
        BrokerSettings.from_env({"PROMETHEAN_MAX_INFLIGHT_CAP": "100", "BUS_MAX_INFLIGHT": "200"})


@pytest.mark.parametrize("value", ["99", "3600001", "soon"])
def test_send_stall_bounds(value: str) -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_SEND_STALL_MS"):
        BrokerSettings.from_env({"PROMETHEAN_SEND_STALL_MS": value})
