"""Real drainer processes (``python -m promethean_outbox_drainer``) for the
outbox tests, and blocking helpers that read the shared SQLite file."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from tests.fixtures.broker import SCRUBBED_PREFIXES, http_get
from tests.fixtures.ferretdb import free_port

START_TIMEOUT_S: Final = 30.0
POLL_S: Final = 0.05

FAST_DRAINER_ENV: Final[Mapping[str, str]] = {
    "PROMETHEAN_OUTBOX_POLL_MS": "50",
    "PROMETHEAN_OUTBOX_BACKOFF_MS": "50",
    "PROMETHEAN_OUTBOX_BACKOFF_MAX_MS": "500",
    "PROMETHEAN_HEARTBEAT_MS": "1000",
    "PROMETHEAN_DRAIN_MS": "5000",
    "PROMETHEAN_DISCONNECT_KILL_MS": "120000",
    "PROMETHEAN_LOG_LEVEL": "info",
}


class DrainerProcess:
    def __init__(
        self, name: str, store_url: str, bus_url: str, env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.store_url = store_url
        self.bus_url = bus_url
        self.env = {**FAST_DRAINER_ENV, **env}
        self.port = free_port()
        self.log_path = log_dir / f"drainer-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DrainerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(self.env)
        env.update(
            PROMETHEAN_STORE=self.store_url,
            BUS_URL=self.bus_url,
            PROMETHEAN_HOST="127.0.0.1",
            PROMETHEAN_OUTBOX_DRAINER_PORT=str(self.port),
            PROMETHEAN_DRAINER_ID=self.name,
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promethean_outbox_drainer"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for("/healthz/live")
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def wait_for(self, path: str, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.process
            if process is not None and process.poll() is not None:
                pytest.fail(
                    f"drainer {self.name} exited with {process.returncode}:\n{self.log_text()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = http_get(self.port, path, timeout=1.0)
                if status == 200:
                    return
            time.sleep(POLL_S)
        pytest.fail(f"drainer {self.name}: {path} not 200 within {timeout}s:\n{self.log_text()}")

    def metric(self, name: str) -> float:
        """One unlabelled sample of ``/metrics``."""
        status, body = http_get(self.port, "/metrics")
        assert status == 200
        for line in str(body).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"metric {name} not exposed by drainer {self.name}")

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
        if process is not None:
            process.wait()

    def terminate(self, timeout: float = 15.0) -> int:
        process = self.process
        assert process is not None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)


class DrainerFactory:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[DrainerProcess] = []

    def __call__(
        self, name: str, *, store_url: str, bus_url: str, env: Mapping[str, str] | None = None
    ) -> DrainerProcess:
        drainer = DrainerProcess(name, store_url, bus_url, env or {}, self.log_dir)
        self.started.append(drainer)
        return drainer.start()

    def kill_all(self) -> None:
        for drainer in self.started:
            drainer.kill()


@pytest.fixture
def drainer_process(tmp_path: Path) -> Iterator[DrainerFactory]:
    factory = DrainerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.kill_all()


def read_db(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """A short read of the shared SQLite file (WAL lets it run beside the writers)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def logged_ids(path: Path, topic: str) -> list[str]:
    return [str(row[0]) for row in read_db(path, "SELECT id FROM events WHERE topic = ?", (topic,))]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
