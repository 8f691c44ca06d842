"""A real broker process for the SDK tests.

`BrokerProcess` runs ``python -m promethean_broker`` on a free loopback port
with a SQLite store in a temporary directory, waits for ``/healthz/ready``,
and can be SIGKILLed and restarted on the same port and store. Fixtures:

- ``broker`` (module): one broker shared by a test module; tests use
  unique topic and group names (``names``).
- ``start_broker`` (function): a factory for brokers with their own
  settings; every broker it made is stopped at the end of the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import pytest

READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
BROKER_ID: Final = "sdk-test-broker"

BASE_ENV: Final = {
    "PROMETHEAN_HOST": "127.0.0.1",
    "PROMETHEAN_LOG_LEVEL": "warning",
    "PROMETHEAN_MAX_ATTEMPTS": "3",
    "PROMETHEAN_COMMIT_INTERVAL_MS": "20",
    # A fixed id: a restarted broker takes its own lease back at once
    # instead of waiting for it to expire.
    "PROMETHEAN_BROKER_ID": BROKER_ID,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BrokerProcess:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.store_url = f"sqlite:///{workdir / 'broker.db'}"
        self.token = env.get("PROMETHEAN_BROKER_TOKEN")
        self.env = {
            **os.environ,
            **BASE_ENV,
            "BUS_PORT": str(self.port),
            "PROMETHEAN_STORE": self.store_url,
            **env,
        }
        self.log_path = workdir / "broker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start the process and wait until it answers ready."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("broker already running")
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promethean_broker"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    async def start_async(self) -> None:
        """`start` without blocking the event loop (clients keep running)."""
        await asyncio.to_thread(self.start)

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                pytest.fail(f"broker exited with {code} before it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.http_url + "/healthz/ready", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        pytest.fail(f"broker not ready within {READY_TIMEOUT_S}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no drain, no final commit flush, no lease release."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def admin(self, path: str) -> Any:
        """GET an admin API path; the decoded JSON body."""
        request = urllib.request.Request(self.http_url + path)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    async def admin_async(self, path: str) -> Any:
        return await asyncio.to_thread(self.admin, path)

    def stored_count(self, topic: str) -> int:
        """Events stored in ``topic`` according to ``GET /topics/{topic}/offsets``."""
        body = self.admin(f"/topics/{topic}/offsets")
        return sum(p["latest"] - p["earliest"] + 1 for p in body["partitions"] if p["latest"] >= 0)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(tmp_path_factory.mktemp("broker"), {})
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def start_broker(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
    made: list[BrokerProcess] = []

    def start(**env: str) -> BrokerProcess:
        process = BrokerProcess(tmp_path / f"broker-{len(made)}", env)
        made.append(process)
        process.start()
        return process

    try:
        yield start
    finally:
        for process in made:
            process.stop()


@pytest.fixture
def unused_url() -> str:
    """A broker URL on a loopback port where nothing listens."""
    return f"ws://127.0.0.1:{free_port()}/ws"


class Names:
    """Topic and group names no other test uses."""

    def __init__(self) -> None:
        self._prefix = f"t{uuid.uuid4().hex[:10]}"

    def topic(self, suffix: str = "events") -> str:
        return f"{self._prefix}.{suffix}"

    def group(self, suffix: str = "workers") -> str:
        return f"{self._prefix}-{suffix}"


@pytest.fixture
def names() -> Names:
    return Names()
