"""A real broker process on loopback for the behaviour suite.

``python -m promethean_broker`` with an SQLite store in a temporary
directory, on a free port; ready when ``GET /healthz/ready`` answers 200;
killed with SIGKILL at the end (its state dies with the temporary directory).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.behaviour.settings import BusSettings

READY_TIMEOUT_S: Final = 30.0
START_ATTEMPTS: Final = 3
POLL_S: Final = 0.05
# Inherited variables that would point the broker elsewhere or lock it down.
SCRUBBED: Final = ("MONGO_URL", "MONGO_DB", "PROMETHEAN_BROKER_TOKEN", "PROMETHEAN_BROKER_ID")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ready(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/healthz/ready"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _environment(workdir: Path, port: int, settings: BusSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(settings.environment())
    env.update(
        {
            "PROMETHEAN_STORE": f"sqlite:///{workdir / 'bus.db'}",
            "BUS_PORT": str(port),
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_LOG_LEVEL": "warning",
        }
    )
    return env


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def running_broker(workdir: Path, settings: BusSettings) -> Iterator[str]:
    """Yields the broker's WebSocket URL; the process is SIGKILLed on exit."""
    log_path = workdir / "broker.log"
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "promethean_broker"],
                env=_environment(workdir, port, settings),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not _ready(port):
                if process.poll() is not None:
                    tail = _log_tail(log_path)
                    if "address already in use" in tail and attempt + 1 < START_ATTEMPTS:
                        break
                    pytest.fail(f"broker exited with {process.returncode}:\n{tail}", pytrace=False)
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"broker not ready within {READY_TIMEOUT_S}s:\n{_log_tail(log_path)}",
                        pytrace=False,
                    )
                time.sleep(POLL_S)
            else:
                yield f"ws://127.0.0.1:{port}/ws"
                return
        finally:
            _kill(process)
    pytest.fail(f"broker could not bind a free port:\n{_log_tail(log_path)}", pytrace=False)


class BrokerPool:
    """One broker process per distinct `BusSettings`, started on first use."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._stack = contextlib.ExitStack()
        self._urls: dict[BusSettings, str] = {}

    def url(self, settings: BusSettings) -> str:
        url = self._urls.get(settings)
        if url is None:
            workdir = self._root / f"broker-{len(self._urls)}"
            workdir.mkdir()
            url = self._stack.enter_context(running_broker(workdir, settings))
            self._urls[settings] = url
        return url

    def close(self) -> None:
        self._stack.close()
