"""load_settings: a bad value stops the process with one stderr line and exit 2.

The bad-value cases run ``load_settings(BrokerSettings, os.environ)`` in a real
``python -c`` process, as the broker's entry point does.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from promethean.errors import SettingsError
from promethean.settings import EXIT_BAD_SETTING, load_settings, settings_error_line
from promethean_broker.settings import BrokerSettings

LOAD_BROKER_SETTINGS = (
    "import os\n"
    "from promethean.settings import load_settings\n"
    "from promethean_broker.settings import BrokerSettings\n"
    "load_settings(BrokerSettings, os.environ)\n"
    "print('loaded')\n"
)
TOKEN = "tok-Never-Shown-42"
CLEARED_PREFIXES = ("PROMETHEAN_", "BUS_", "MONGO_")


def run_broker_settings(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", LOAD_BROKER_SETTINGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variables", "expected_line"),
    [
        (
            {"BUS_PORT": "70000"},
            "broker: invalid setting: BUS_PORT=70000 is invalid: a port number from 1 to 65535",
        ),
        (
            {"PROMETHEAN_LOG_LEVEL": "verbose"},
            "broker: invalid setting: PROMETHEAN_LOG_LEVEL=verbose is invalid: "
            "one of debug, info, warning, error",
        ),
        (
            {"PROMETHEAN_AUDIT_SAMPLE": "1.5"},
            "broker: invalid setting: PROMETHEAN_AUDIT_SAMPLE=1.5 is invalid: "
            "a number from 0.0 to 1.0",
        ),
        (
            {"BUS_ACK_TIMEOUT_MS": "99"},
            "broker: invalid setting: BUS_ACK_TIMEOUT_MS=99 is invalid: "
            "a whole number of milliseconds from 100 to 3600000",
        ),
        (
            {"PROMETHEAN_STORE": "postgres://bus:pa55word@db/bus"},
            "broker: invalid setting: PROMETHEAN_STORE=postgres://bus:***@db/bus is invalid: "
            "a URL starting with memory://, sqlite://, mongodb://, mongodb+srv://",
        ),
        (
            {"PROMETHEAN_DEV": "maybe\nnot"},
            "broker: invalid setting: PROMETHEAN_DEV=maybe\\nnot is invalid: "
            "one of 1, 0, true, false, yes, no",
        ),
    ],
    ids=["port", "log-level", "audit-sample", "ack-timeout", "store-url", "multi-line-value"],
)
def test_bad_value_exits_2_with_one_line(variables: dict[str, str], expected_line: str) -> None:
    result = run_broker_settings(PROMETHEAN_BROKER_TOKEN=TOKEN, **variables)
    assert result.returncode == EXIT_BAD_SETTING, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [expected_line]
    assert TOKEN not in result.stderr
    assert "pa55word" not in result.stderr


def test_bad_secret_is_masked_in_the_error_line() -> None:
    result = run_broker_settings(PROMETHEAN_BROKER_TOKEN="two words-s3cr3t")
    assert result.returncode == EXIT_BAD_SETTING
    assert result.stderr.splitlines() == [
        "broker: invalid setting: PROMETHEAN_BROKER_TOKEN=*** is invalid: "
        "1 to 4096 printable characters without spaces"
    ]
    assert "s3cr3t" not in result.stderr


def test_good_environment_loads() -> None:
    result = run_broker_settings(BUS_PORT="7171", PROMETHEAN_BROKER_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "loaded\n"


def test_in_process_load_returns_settings_or_raises_system_exit() -> None:
    assert load_settings(BrokerSettings, {"BUS_PORT": "7171"}).port == 7171
    stream = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        load_settings(BrokerSettings, {"BUS_PORT": "x"}, stderr=stream)
    assert caught.value.code == EXIT_BAD_SETTING
    assert stream.getvalue() == (
        "broker: invalid setting: BUS_PORT=x is invalid: a port number from 1 to 65535\n"
    )


def test_error_line_never_spans_lines() -> None:
    error = SettingsError("X", "a", "one\nor two")
    assert settings_error_line("svc", error) == "svc: invalid setting: X=a is invalid: one or two"
