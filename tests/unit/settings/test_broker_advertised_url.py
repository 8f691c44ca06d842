"""PROMETHEAN_ADVERTISED_URL: where other clients reach this broker."""

from __future__ import annotations

import socket

import pytest

from promethean.errors import SettingsError
from promethean_broker.settings import BrokerSettings


def test_given_url_is_advertised_as_is() -> None:
    url = "ws://promethean-broker-1.promethean-broker:7070/ws"
    settings = BrokerSettings.from_env({"PROMETHEAN_ADVERTISED_URL": url})
    assert settings.advertised_address == url


def test_default_is_the_bind_host_and_port() -> None:
    settings = BrokerSettings.from_env({"PROMETHEAN_HOST": "127.0.0.1", "BUS_PORT": "7171"})
    assert settings.advertised_address == "ws://127.0.0.1:7171"


def test_a_wildcard_bind_host_advertises_the_hostname() -> None:
    settings = BrokerSettings.from_env({})
    assert settings.advertised_address == f"ws://{socket.gethostname()}:7070"


def test_a_url_that_is_not_websocket_is_refused() -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_ADVERTISED_URL"):
        BrokerSettings.from_env({"PROMETHEAN_ADVERTISED_URL": "http://b:7070"})
