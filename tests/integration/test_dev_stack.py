"""``promethean dev`` runs the local stack and stops it cleanly.

The first test drives the real console script against the real broker; the
others run the same supervisor on tiny inline services to prove how failures
and stubborn children are handled.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from promethean.cli.dev import run_stack
from promethean.cli.services import ServiceSpec

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CLEARED_PREFIXES = ("PROMETHEAN_", "BUS_", "MONGO_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environ(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env.update(variables)
    return env


def promethean_script() -> Path:
    script = Path(sys.executable).parent / "promethean"
    assert script.exists(), f"console script missing next to {sys.executable}"
    return script


class LineReader:
    """Collects a stream's lines on a thread so the child never blocks on a full pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def rest(self) -> list[str]:
        """Every line read so far (after `join`, all of them)."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}; saw {self.lines!r}")

    def wait_for_each(self, prefixes: tuple[str, ...], timeout_s: float) -> None:
        """Until a line starting with each of ``prefixes`` has come, in any order
        (processes started together print their first lines in no fixed order)."""
        deadline = time.monotonic() + timeout_s
        missing = list(prefixes)
        while missing and (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(AssertionError):
                line = self.wait_for("", remaining)
                missing = [prefix for prefix in missing if not line.startswith(prefix)]
        assert not missing, f"no line starting with {missing!r}; saw {self.lines!r}"


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def wait_for_status(url: str, expected: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"promethean dev exited early with {process.returncode}"
        if http_status(url) == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {expected} within {START_TIMEOUT_S} s")


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def running(args: list[str], **popen: Any) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """Start ``args`` with its output read line by line; on the way out, kill it and
    everything it started if still running, and close its pipe."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    try:
        yield process, output
    finally:
        if process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
            process.kill()
        process.wait(timeout=10)
        output.join(timeout_s=10)
        process.stdout.close()


def assert_gc_paced(port: int) -> None:
    """Every service runs the GC pacer: start-up leftovers were swept and
    frozen, and each collection's pause is exported."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        families = {
            sample.name: sample.value
            for family in text_string_to_metric_families(response.read().decode())
            for sample in family.samples
        }
    assert families.get("promethean_gc_sweeps_total", 0) >= 1, port
    assert families.get("promethean_gc_frozen_objects", 0) > 10_000, port
    assert "promethean_gc_pause_seconds_count" in families, port


def test_dev_serves_the_stack_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    ports = {
        "BUS_PORT": free_port(),
        "WS_PORT": free_port(),
        "PROMETHEAN_OUTBOX_DRAINER_PORT": free_port(),
        "PROMETHEAN_COMPACTOR_PORT": free_port(),
        "PROMETHEAN_WORKER_PORT": free_port(),
    }
    env = clean_environ(**{name: str(port) for name, port in ports.items()})
    with running([str(promethean_script()), "dev"], cwd=tmp_path, env=env) as (process, output):
        bus = ports["BUS_PORT"]
        line = output.wait_for("broker ", START_TIMEOUT_S)
        assert line.split() == [
            "broker",
            f"ws://127.0.0.1:{bus}/ws",
            f"http://127.0.0.1:{bus}/metrics",
        ]
        for name in ("gateway", "outbox-drainer", "compactor", "worker"):
            output.wait_for(f"{name} ", START_TIMEOUT_S)
        for port in ports.values():
            wait_for_status(f"http://127.0.0.1:{port}/healthz/live", 200, process)
            assert_gc_paced(port)
        assert (tmp_path / ".promethean" / "bus.db").exists()
        service_pids = [child.pid for child in psutil.Process(process.pid).children()]
        assert len(service_pids) == len(ports), "promethean dev should start five services"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, output.lines
        assert all(gone(pid) for pid in service_pids)
        for port in ports.values():
            assert http_status(f"http://127.0.0.1:{port}/healthz/live") is None


def test_dev_refuses_a_bad_setting_before_starting_anything(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(promethean_script()), "dev"],
        cwd=tmp_path,
        env=clean_environ(BUS_PORT="http"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "promethean: invalid setting: BUS_PORT=http is invalid: a port number from 1 to 65535"
    ]


def inline_service(name: str, code: str) -> ServiceSpec:
    return ServiceSpec(name, (sys.executable, "-c", textwrap.dedent(code)), lambda env: (name,))


WAITS_FOR_SIGTERM = """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(1)
"""


def test_a_failing_service_stops_the_others_and_sets_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    specs = (
        inline_service("steady", WAITS_FOR_SIGTERM),
        inline_service("crashy", "import time, sys; time.sleep(0.5); sys.exit(3)"),
    )
    started = time.monotonic()
    assert run_stack(specs, clean_environ()) == 3
    assert time.monotonic() - started < STOP_TIMEOUT_S
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["steady  steady", "crashy  crashy"]
    assert "promethean dev: crashy exited with code 3" in captured.err


STUBBORN_STACK = """
    import sys, textwrap
    from promethean.cli.dev import run_stack
    from promethean.cli.services import ServiceSpec
    code = "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
    code += "print('ignoring', flush=True)\\nwhile True: time.sleep(1)\\n"
    spec = ServiceSpec("stubborn", (sys.executable, "-c", code), lambda env: ("here",))
    sys.exit(run_stack((spec,), {"PROMETHEAN_DRAIN_MS": "0"}))
"""


def test_a_service_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    with running(
        [sys.executable, "-c", textwrap.dedent(STUBBORN_STACK)], cwd=tmp_path, env=clean_environ()
    ) as (process, output):
        output.wait_for("ignoring", START_TIMEOUT_S)
        stubborn = [child.pid for child in psutil.Process(process.pid).children()]
        assert stubborn, "the supervisor started no child process"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 1
        output.wait_for("promethean dev: still running after 5 s: stubborn; killing", 5)
        assert all(gone(pid) for pid in stubborn)


def test_ctrl_c_stops_the_stack_within_three_seconds_and_the_worker_leaves(
    tmp_path: Path,
) -> None:
    ports = {
        "BUS_PORT": free_port(),
        "WS_PORT": free_port(),
        "PROMETHEAN_OUTBOX_DRAINER_PORT": free_port(),
        "PROMETHEAN_COMPACTOR_PORT": free_port(),
        "PROMETHEAN_WORKER_PORT": free_port(),
    }
    env = clean_environ(**{name: str(port) for name, port in ports.items()})
    with running([str(promethean_script()), "dev"], cwd=tmp_path, env=env) as (process, output):
        for port in ports.values():
            wait_for_status(f"http://127.0.0.1:{port}/healthz/ready", 200, process)
        bus = ports["BUS_PORT"]

        def members() -> list[Any]:
            url = f"http://127.0.0.1:{bus}/groups/promethean-worker"
            with urllib.request.urlopen(url, timeout=5) as reply:
                return list(json.loads(reply.read())["members"])

        deadline = time.monotonic() + START_TIMEOUT_S
        while not members():
            assert time.monotonic() < deadline, "the worker never joined its group"
            time.sleep(0.1)

        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, output.lines
        took = time.monotonic() - started
        output.join(timeout_s=10)
    logged = "\n".join(output.rest())
    assert "worker drained" in logged
    assert "exceeded PROMETHEAN_DRAIN_MS" not in logged, logged[-4000:]
    assert took <= 3.0, f"stopping took {took:.1f} s"
    db = sqlite3.connect(tmp_path / ".promethean" / "bus.db")
    try:
        left = db.execute("SELECT member_id FROM group_members").fetchall()
    finally:
        db.close()
    assert left == [], "the worker left its group instead of timing out"


def test_the_service_marked_stops_last_is_stopped_after_the_others_exited(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "client-gone"
    client = f"""
        import pathlib, signal, sys, time
        def stop(*_):
            time.sleep(0.5)  # a drain that needs the broker
            pathlib.Path({str(marker)!r}).write_text("gone")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("client up", flush=True)
        while True:
            time.sleep(1)
    """
    broker = f"""
        import pathlib, signal, sys, time
        def stop(*_):
            seen = pathlib.Path({str(marker)!r}).exists()
            print("broker stopped; client gone first:", seen, flush=True)
            sys.exit(0 if seen else 9)
        signal.signal(signal.SIGTERM, stop)
        print("broker up", flush=True)
        while True:
            time.sleep(1)
    """
    stack = f"""
        import sys
        from promethean.cli.dev import run_stack
        from promethean.cli.services import ServiceSpec
        specs = (
            ServiceSpec("broker", (sys.executable, "-c", {textwrap.dedent(broker)!r}),
                        lambda env: ("b",), stops_last=True),
            ServiceSpec("client", (sys.executable, "-c", {textwrap.dedent(client)!r}),
                        lambda env: ("c",)),
        )
        sys.exit(run_stack(specs, {{}}))
    """
    with running(
        [sys.executable, "-c", textwrap.dedent(stack)], cwd=tmp_path, env=clean_environ()
    ) as (process, output):
        output.wait_for_each(("broker up", "client up"), START_TIMEOUT_S)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, output.rest()
        output.wait_for("broker stopped; client gone first: True", 5)
