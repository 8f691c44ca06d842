"""Run a service as a local process with the environment a rendered pod
would get, moved onto loopback: free ports, a local store, the broker's
loopback URL. Logs go to a file shown when the process fails."""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pytest

from tests.deploy.chart import ROOT
from tests.fixtures.broker import SCRUBBED_PREFIXES, http_get

READY_TIMEOUT_S: Final = 45.0
POLL_S: Final = 0.1

MODULES: Final = {
    "broker": "promethean_broker",
    "gateway": "promethean_gateway",
    "outbox-drainer": "promethean_outbox_drainer",
    "compactor": "promethean_compactor",
    "worker": "promethean_worker",
}
PORT_VARIABLES: Final = {
    "broker": "BUS_PORT",
    "gateway": "WS_PORT",
    "outbox-drainer": "PROMETHEAN_OUTBOX_DRAINER_PORT",
    "compactor": "PROMETHEAN_COMPACTOR_PORT",
    "worker": "PROMETHEAN_WORKER_PORT",
}

SOURCE_DIRS: Final = {
    "broker": "services/broker/src",
    "gateway": "services/gateway/src",
    "outbox-drainer": "services/outbox-drainer/src",
    "compactor": "services/compactor/src",
    "worker": "services/partitioned-worker/src",
}
ADVERTISED_URL_VARIABLE: Final = "PROMETHEAN_ADVERTISED_URL"
VARIABLE_RE: Final = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""")


def read_variables(component: str) -> set[str]:
    """Names of environment variables the component's code (and the shared
    library) spell out as string literals."""
    names: set[str] = set()
    for directory in (ROOT / SOURCE_DIRS[component], ROOT / "libs/promethean/src"):
        for path in directory.rglob("*.py"):
            names.update(VARIABLE_RE.findall(path.read_text(encoding="utf-8")))
    return names


def missing_entry_point(component: str) -> str | None:
    """Why the component cannot be run as ``python -m``, or None when it can."""
    module = MODULES[component]
    if importlib.util.find_spec(module) is None:
        return f"package {module} is not installed"
    if importlib.util.find_spec(f"{module}.__main__") is None:
        return f"{module} has no __main__ module yet, so `python -m {module}` cannot run"
    return None


def loopback_env(
    rendered: Mapping[str, str], *, component: str, port: int, store_url: str, bus_url: str
) -> dict[str, str]:
    """The rendered environment with its addresses moved onto this machine:
    the MongoDB URL gives way to ``store_url`` (PROMETHEAN_STORE wins over
    MONGO_URL in store selection), the broker URL points at the local
    broker, and the service listens on ``port`` on 127.0.0.1."""
    env = dict(rendered)
    env.pop("MONGO_URL", None)
    env["PROMETHEAN_STORE"] = store_url
    env["PROMETHEAN_HOST"] = "127.0.0.1"
    env[PORT_VARIABLES[component]] = str(port)
    if "BUS_URL" in env:
        env["BUS_URL"] = bus_url
    advertise_on_loopback(env, port)
    return env


def advertise_on_loopback(env: dict[str, str], port: int) -> None:
    """A broker's advertised address (its pod's DNS name in the cluster)
    becomes the loopback address it listens on, in the form the chart
    renders (ws://<host>:<port>)."""
    if ADVERTISED_URL_VARIABLE in env:
        env[ADVERTISED_URL_VARIABLE] = f"ws://127.0.0.1:{port}"


class ServiceProcess:
    def __init__(self, component: str, env: Mapping[str, str], port: int, log_dir: Path) -> None:
        self.component = component
        self.port = port
        self.env = dict(env)
        self.log_path = log_dir / f"{component}-{port}.log"
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith((*SCRUBBED_PREFIXES, "OTEL_"))
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", MODULES[component]],
                env={**inherited, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                pytest.fail(
                    f"{self.component} exited with {code} before it was ready:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, body = http_get(self.port, "/healthz/ready", timeout=2.0)
                if status == 200:
                    return
                last = body
            time.sleep(POLL_S)
        pytest.fail(
            f"{self.component} not ready within {timeout:.0f}s (last answer {last!r}):\n"
            f"{self.log_tail()}"
        )

    def terminate(self, grace_s: float) -> int:
        """SIGTERM, as the kubelet sends it; the exit code, or a failure if
        the process outlives the pod's grace period."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"{self.component} still running {grace_s}s after SIGTERM (the pod's "
                f"terminationGracePeriodSeconds):\n{self.log_tail()}"
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
