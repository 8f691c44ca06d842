"""The compactor's settings: defaults, overrides and one-line refusals."""

from __future__ import annotations

import io

import pytest

from promethean.errors import SettingsError
from promethean.settings import load_settings
from promethean_compactor.settings import CompactorSettings


def test_defaults() -> None:
    settings = CompactorSettings.from_env({})
    assert settings.interval_ms == 60_000
    assert settings.lease_ttl_ms == 15_000
    assert settings.renew_every_ms == 5_000
    assert settings.store_url.startswith("sqlite:///")


def test_overrides_and_store_selection() -> None:
    settings = CompactorSettings.from_env(
        {
            "PROMETHEAN_COMPACTOR_INTERVAL_MS": "250",
            "PROMETHEAN_COMPACTOR_LEASE_TTL_MS": "3000",
            "PROMETHEAN_COMPACTOR_ID": "compactor-a",
            "PROMETHEAN_STORE": "memory://",
            "BUS_URL": "ws://127.0.0.1:9999/ws",
            "PROMETHEAN_BROKER_TOKEN": "s3cret",
        }
    )
    assert (settings.interval_ms, settings.lease_ttl_ms) == (250, 3000)
    assert settings.compactor_id == "compactor-a"
    assert settings.store_url == "memory://"
    assert settings.bus_url == "ws://127.0.0.1:9999/ws"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROMETHEAN_COMPACTOR_INTERVAL_MS", "soon"),
        ("PROMETHEAN_COMPACTOR_LEASE_TTL_MS", "10"),
        ("PROMETHEAN_COMPACTOR_ID", "has space"),
        ("BUS_URL", "http://x:1"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CompactorSettings.from_env({name: value})
    assert name in str(caught.value)
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        load_settings(CompactorSettings, {name: value}, stderr=stderr)
    assert exited.value.code == 2
    assert stderr.getvalue().count("\n") == 1
