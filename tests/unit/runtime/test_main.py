"""`run_service`: how every service's ``__main__`` starts it. Each test runs
a tiny service package in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from promethean.runtime.exit_codes import EXIT_BAD_SETTING, EXIT_OK

SETTINGS = """
from dataclasses import dataclass
from promethean.errors import SettingsError
from promethean.settings import CommonSettings

@dataclass(frozen=True)
class ProbeSettings:
    SERVICE = "probe"
    common: CommonSettings
    port: int

    @classmethod
    def from_env(cls, environ):
        if "PROBE_BAD" in environ:
            raise SettingsError("PROBE_BAD", environ["PROBE_BAD"], "nothing at all")
        return cls(CommonSettings.from_env(environ, service=cls.SERVICE), 0)
"""

APP = """
import asyncio
import os
import signal
from aiohttp import web
from promethean.errors import SettingsError
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.kit import service_kit
from probe_service.settings import ProbeSettings

if "PROBE_SIGTERM_AT_IMPORT" in os.environ:
    signal.raise_signal(signal.SIGTERM)  # a stop while the service still imports


class ProbeRuntime:
    def __init__(self, settings):
        self.kit = service_kit(settings.common, depends_on="store")

    async def start(self):
        if "PROBE_HANG_DRAIN" in os.environ:
            self.kit.drain = asyncio.Event().wait
        if "PROBE_STOP_AT_START" in os.environ:
            self.kit.stop(int(os.environ["PROBE_STOP_AT_START"]))

    async def close(self):
        print("closed", flush=True)


KEY = web.AppKey("runtime", ProbeRuntime)


def create_app(settings):
    if "PROBE_BAD_HANDLER" in os.environ:
        raise SettingsError("PROBE_BAD_HANDLER", "x", "an importable handler")
    return service_app(ProbeRuntime(settings), KEY)


SERVICE_SPEC = ServiceSpec(ProbeSettings, create_app)
"""


def run_probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    package = tmp_path / "probe_service"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(textwrap.dedent(SETTINGS))
    (package / "app.py").write_text(textwrap.dedent(APP))
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PROMETHEAN_HOST": "127.0.0.1",
        "PROMETHEAN_GC_FREEZE_MS": "0",
        **env,
    }
    code = "from promethean.runtime.main import run_service; run_service('probe_service')"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_stop_during_the_imports_ends_in_a_clean_drain(tmp_path: Path) -> None:
    done = run_probe(tmp_path, PROBE_SIGTERM_AT_IMPORT="1")
    assert done.returncode == EXIT_OK, done.stderr
    assert "probe listening on http://127.0.0.1:0" in done.stderr
    assert done.stdout == "closed\n"


def test_the_exit_code_is_the_one_the_service_stopped_with(tmp_path: Path) -> None:
    done = run_probe(tmp_path, PROBE_STOP_AT_START="70")
    assert done.returncode == 70, done.stderr


def test_a_bad_setting_stops_the_service_with_one_line(tmp_path: Path) -> None:
    done = run_probe(tmp_path, PROBE_BAD="yes")
    assert done.returncode == EXIT_BAD_SETTING
    assert done.stderr == "probe: invalid setting: PROBE_BAD=yes is invalid: nothing at all\n"


def test_a_bad_setting_found_while_assembling_is_one_line_too(tmp_path: Path) -> None:
    done = run_probe(tmp_path, PROBE_BAD_HANDLER="1")
    assert done.returncode == EXIT_BAD_SETTING
    assert done.stderr.endswith(
        "probe: invalid setting: PROBE_BAD_HANDLER=x is invalid: an importable handler\n"
    )


def test_a_drain_past_the_cap_is_abandoned(tmp_path: Path) -> None:
    done = run_probe(
        tmp_path, PROBE_STOP_AT_START="0", PROBE_HANG_DRAIN="1", PROMETHEAN_DRAIN_MS="200"
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert "drain exceeded PROMETHEAN_DRAIN_MS; exiting anyway" in done.stderr
    assert done.stdout == ""
