"""Worker processes for integration tests, next to a real broker.

``worker_process`` starts ``python -m promethean_worker`` connected to a
broker from the ``broker_process`` fixture, on a free port, with the test
handlers of `handlers_for_tests` importable; every process it started is
SIGKILLed at teardown.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from tests.fixtures.broker import SCRUBBED_PREFIXES, BrokerProcess, http_get
from tests.fixtures.ferretdb import free_port

RECORD_HANDLER: Final = "tests.integration.worker.handlers_for_tests:record"
START_TIMEOUT_S: Final = 30.0
REPO_ROOT: Final = Path(__file__).resolve().parents[3]

FAST_WORKER_ENV: Final[Mapping[str, str]] = {
    "PROMETHEAN_HEARTBEAT_MS": "300",
    "PROMETHEAN_DRAIN_MS": "5000",
    "PROMETHEAN_LOG_LEVEL": "info",
    "PROMETHEAN_WORKER_LAG_POLL_MS": "500",
}


@dataclass
class Record:
    pid: int
    partition: int
    offset: int
    key: str
    seq: int
    ns: int
    """When it was handled (CLOCK_MONOTONIC, shared by the processes of a host)."""


@dataclass
class Processing:
    """What a set of workers did with a topic, judged from their records."""

    records: int
    unique: int
    duplicates: int
    order_violations: list[Record]
    """First handlings of an event of a key that came after a later event of
    the same key had already been handled."""


def analyse(records: list[Record]) -> Processing:
    seen: set[tuple[int, int]] = set()
    newest: dict[tuple[int, str], int] = {}
    violations = []
    duplicates = 0
    for record in sorted(records, key=lambda r: r.ns):
        event = (record.partition, record.offset)
        if event in seen:
            duplicates += 1
            continue
        seen.add(event)
        key = (record.partition, record.key)
        if newest.get(key, -1) > record.offset:
            violations.append(record)
        newest[key] = max(newest.get(key, -1), record.offset)
    return Processing(len(records), len(seen), duplicates, violations)


class WorkerProcess:
    def __init__(self, env: Mapping[str, str], log_dir: Path, name: str) -> None:
        self.env = dict(env)
        self.name = name
        self.log_dir = log_dir
        self.port = free_port()
        self.record_path = log_dir / f"{name}.records"
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(self.env)
        env["PROMETHEAN_WORKER_PORT"] = str(self.port)
        env["PROMETHEAN_HOST"] = "127.0.0.1"
        env["WORKER_TEST_RECORD"] = str(self.record_path)
        env.setdefault("PROMETHEAN_INSTANCE_ID", self.name)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promethean_worker"],
                env=env,
                cwd=self.log_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            self.wait_ready()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def get(self, path: str) -> tuple[int, Any]:
        return http_get(self.port, path, timeout=2.0)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.get("/healthz/ready")[0] == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"worker not ready within {timeout}s:\n{self.log_tail()}")

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running after {timeout}s:\n{self.log_tail()}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def records(self) -> list[Record]:
        if not self.record_path.exists():
            return []
        rows = []
        # The last piece may be a line still being written.
        for line in self.record_path.read_text().split("\n")[:-1]:
            parts = line.split()
            if len(parts) == 6:
                pid, partition, offset, key, seq, ns = parts
                rows.append(Record(int(pid), int(partition), int(offset), key, int(seq), int(ns)))
        return rows


class WorkerFactory:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[WorkerProcess] = []

    def __call__(
        self,
        broker: BrokerProcess,
        env: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        wait_ready: bool = True,
    ) -> WorkerProcess:
        merged = {**FAST_WORKER_ENV, "BUS_URL": broker.url, **(env or {})}
        worker = WorkerProcess(merged, self.log_dir, name or f"worker-{len(self.started)}")
        self.started.append(worker)
        worker.start(wait_ready=wait_ready)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.kill_all()
