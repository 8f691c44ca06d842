"""Real compactor processes: ``compactor_process(store_url, env)`` starts
``python -m promethean_compactor`` on a free loopback port and waits until
``/healthz/live`` answers; every process started is SIGKILLed at teardown."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest

from tests.fixtures.broker import SCRUBBED_PREFIXES, http_get
from tests.fixtures.ferretdb import free_port

START_TIMEOUT_S: Final = 30.0
FAST_ENV: Final[Mapping[str, str]] = {
    "PROMETHEAN_COMPACTOR_INTERVAL_MS": "200",
    "PROMETHEAN_COMPACTOR_LEASE_TTL_MS": "1500",
    "PROMETHEAN_DRAIN_MS": "3000",
    "PROMETHEAN_HEARTBEAT_MS": "1000",
    "PROMETHEAN_LOG_LEVEL": "info",
}


class CompactorProcess:
    def __init__(self, store_url: str, env: Mapping[str, str], log_dir: Path, name: str) -> None:
        self.store_url = store_url
        self.env = {**FAST_ENV, **env}
        self.log_dir = log_dir
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"compactor-{self.name}-{self.starts}.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(self.env)
        env["PROMETHEAN_STORE"] = self.store_url
        env["PROMETHEAN_HOST"] = "127.0.0.1"
        env["PROMETHEAN_COMPACTOR_PORT"] = str(self.port)
        env["PROMETHEAN_COMPACTOR_ID"] = self.name
        env.setdefault("BUS_URL", f"ws://127.0.0.1:{free_port()}/ws")
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promethean_compactor"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"compactor exited {self.process.returncode}:\n{self.log_text()}")
            if self.status("/healthz/live") == 200:
                return
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"compactor {self.name} never came up:\n{self.log_text()}")

    def status(self, path: str) -> int | None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = http_get(self.port, path, timeout=1.0)
            return status
        return None

    def get(self, path: str) -> tuple[int, Any]:
        return http_get(self.port, path)

    @property
    def leading(self) -> bool:
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
            return self.metric("promethean_compactor_leader") == 1
        return False

    def metric(self, name: str) -> float:
        """Sum of every sample of ``name`` on ``/metrics``."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


class CompactorFactory:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[CompactorProcess] = []

    def __call__(
        self, store_url: str, env: Mapping[str, str] | None = None, *, name: str | None = None
    ) -> CompactorProcess:
        process = CompactorProcess(
            store_url, env or {}, self.log_dir, name or f"c{len(self.started)}"
        )
        self.started.append(process)
        process.start()
        return process


@pytest.fixture
def compactor_process(tmp_path: Path) -> Iterator[CompactorFactory]:
    factory = CompactorFactory(tmp_path)
    try:
        yield factory
    finally:
        for process in factory.started:
            process.kill()


def wait_until(predicate: Any, timeout: float, message: str, poll: float = 0.05) -> float:
    """Poll ``predicate()`` until true; the seconds it took, or fail with ``message``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(poll)
    pytest.fail(message)
