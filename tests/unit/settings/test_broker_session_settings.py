"""PROMETHEAN_SESSION_TIMEOUT_MS: default, derived default, bounds."""

from __future__ import annotations

import pytest

from promethean.errors import SettingsError
from promethean_broker.settings import DEFAULT_SESSION_TIMEOUT_MS, BrokerSettings


def test_default_session_timeout() -> None:
    assert BrokerSettings.from_env({}).session_timeout_ms == DEFAULT_SESSION_TIMEOUT_MS


def test_unset_session_timeout_covers_three_slow_heartbeats() -> None:
    settings = BrokerSettings.from_env({"PROMETHEAN_HEARTBEAT_MS": "5000"})
    assert settings.session_timeout_ms == 15_000


def test_session_timeout_is_read() -> None:
    env = {"PROMETHEAN_HEARTBEAT_MS": "200", "PROMETHEAN_SESSION_TIMEOUT_MS": "1500"}
    assert BrokerSettings.from_env(env).session_timeout_ms == 1500


@pytest.mark.parametrize(
    ("env", "hint"),
    [
        ({"PROMETHEAN_SESSION_TIMEOUT_MS": "100"}, "PROMETHEAN_SESSION_TIMEOUT_MS"),
        ({"PROMETHEAN_SESSION_TIMEOUT_MS": "soon"}, "PROMETHEAN_SESSION_TIMEOUT_MS"),
        (
            {"PROMETHEAN_HEARTBEAT_MS": "1000", "PROMETHEAN_SESSION_TIMEOUT_MS": "1500"},
            "twice PROMETHEAN_HEARTBEAT_MS",
        ),
    ],
)
def test_bad_session_timeout_names_the_variable(env: dict[str, str], hint: str) -> None:
    with pytest.raises(SettingsError, match=hint):
        BrokerSettings.from_env(env)
