"""Gateway settings: the dev token, key and algorithm checks, one-line exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from promethean.errors import SettingsError
from promethean_gateway.settings import GatewaySettings


def test_ws_token_needs_dev_mode() -> None:
    with pytest.raises(SettingsError, match="WS_TOKEN"):
        GatewaySettings.from_env({"WS_TOKEN": "dev-token"})
    settings = GatewaySettings.from_env({"WS_TOKEN": "dev-token", "PROMETHEAN_DEV": "1"})
    assert settings.ws_token is not None
    assert "dev-token" not in repr(settings)


def test_some_key_is_required_and_algorithms_need_their_key() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        GatewaySettings.from_env({})
    with pytest.raises(SettingsError, match="PROMETHEAN_JWT_ALGORITHMS"):
        GatewaySettings.from_env({"JWT_SECRET": "s3cret", "PROMETHEAN_JWT_ALGORITHMS": "RS256"})
    with pytest.raises(SettingsError, match="PROMETHEAN_JWT_ALGORITHMS"):
        GatewaySettings.from_env({"JWT_SECRET": "s3cret", "PROMETHEAN_JWT_ALGORITHMS": "none"})
    with pytest.raises(SettingsError, match="JWT_PUBLIC_KEY"):
        GatewaySettings.from_env({"JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n"})
    settings = GatewaySettings.from_env(
        {"JWT_SECRET": "s3cret", "JWT_JWKS_URL": "https://idp/jwks"}
    )
    assert settings.jwt.algorithms == {"HS256", "RS256", "ES256"}
    assert "s3cret" not in repr(settings)


def test_dev_token_without_dev_mode_stops_the_process_with_one_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "WS_TOKEN": "dev-token"}
    result = subprocess.run(
        [sys.executable, "-m", "promethean_gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gateway: invalid setting: WS_TOKEN=***")
    assert "dev-token" not in result.stderr
