"""Start a set of service processes, stop them together, report how they ended.

Every child runs in its own process group, so a terminal's Ctrl-C reaches only
this supervisor, which then sends SIGTERM (the services' drain signal) to each
child exactly once, in two waves: first the services that use the others
(workers leave their groups, clients close their connections while the broker
still answers), then, once those have exited, the ones marked ``stops_last``
(the broker). A second Ctrl-C, or a child still running when the stop grace
runs out, gets SIGKILL. If a service exits on its own, the others are stopped
and its exit code becomes ours.

Signal handlers and waiter threads only put events on a ``SimpleQueue`` (whose
``put`` is safe inside a signal handler); the main thread owns every decision.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Final, TextIO

from promethean.cli.services import ServiceSpec

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
EXIT_FAILED: Final = 1
KILL_WAIT_S: Final = 5.0
REPEAT_IGNORED_S: Final = 1.0
"""A stop signal this soon after the first is the same request delivered twice
(a wrapper such as ``timeout`` signals both the child and its group)."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    signum: int


@dataclass(frozen=True, slots=True)
class ServiceExited:
    name: str
    returncode: int


Event = StopRequested | ServiceExited


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        environ: Mapping[str, str],
        *,
        stop_grace_s: float,
        announce: Sequence[str] | None = None,
        err: TextIO | None = None,
    ) -> None:
        self._specs = specs
        self._environ = dict(environ)
        self._stop_grace_s = stop_grace_s
        self._announce = announce
        self._err = err if err is not None else sys.stderr
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._running: set[str] = set()
        self._stop_deadline: float | None = None
        self._stop_requested_at: float | None = None
        self._last_wave_sent = False
        self._killed = False
        self._exit_code = 0

    def run(self) -> int:
        """Start every service, wait for them all to end; return the exit code."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            self._start_all()
            while self._running:
                self._handle(self._next_event())
            return self._exit_code
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._kill_running()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._events.put(StopRequested(signum))

    def _start_all(self) -> None:
        for index, spec in enumerate(self._specs):
            try:
                child = subprocess.Popen(spec.command, env=self._environ, process_group=0)
            except OSError as error:
                self._say(f"cannot start {spec.name}: {error}")
                self._fail(EXIT_FAILED)
                self._begin_stop()
                return
            self._children[spec.name] = child
            self._running.add(spec.name)
            threading.Thread(
                target=self._wait_for,
                args=(spec.name, child),
                name=f"wait-{spec.name}",
                daemon=True,
            ).start()
            if self._announce is not None:
                print(self._announce[index], flush=True)

    def _wait_for(self, name: str, child: subprocess.Popen[bytes]) -> None:
        self._events.put(ServiceExited(name, child.wait()))

    def _next_event(self) -> Event | None:
        """The next event, or ``None`` when the stop grace has run out."""
        if self._stop_deadline is None:
            return self._events.get()
        remaining = self._stop_deadline - time.monotonic()
        try:
            return self._events.get(timeout=max(remaining, 0.0))
        except queue.Empty:
            return None

    def _handle(self, event: Event | None) -> None:
        if event is None:
            self._on_grace_over()
        elif isinstance(event, StopRequested):
            self._on_stop_request()
        else:
            self._on_exit(event)

    def _on_stop_request(self) -> None:
        now = time.monotonic()
        if self._stop_requested_at is None:
            self._stop_requested_at = now
            if self._stop_deadline is None:
                self._begin_stop()
        elif now - self._stop_requested_at >= REPEAT_IGNORED_S and not self._killed:
            self._say(f"stopping now: killing {self._names()}")
            self._kill_running()

    def _on_exit(self, event: ServiceExited) -> None:
        self._running.discard(event.name)
        if self._stop_deadline is not None and not self._killed:
            self._next_wave()
        stopped_by_us = (
            self._stop_deadline is not None
            and not self._killed
            and event.returncode == -signal.SIGTERM
        )
        if stopped_by_us:
            # A service still starting up when we asked it to stop dies of the
            # SIGTERM we sent before it installed its handler: a clean stop.
            return
        if event.returncode != 0:
            self._say(f"{event.name} exited with code {event.returncode}")
            self._fail(event.returncode if event.returncode > 0 else EXIT_FAILED)
        if self._stop_deadline is None:
            if event.returncode == 0:
                self._say(f"{event.name} exited on its own")
                self._fail(EXIT_FAILED)
            self._begin_stop()

    def _on_grace_over(self) -> None:
        self._fail(EXIT_FAILED)
        if self._killed:
            self._say(f"gave up waiting for {self._names()}")
            self._running.clear()
        else:
            self._say(f"still running after {self._stop_grace_s:g} s: {self._names()}; killing")
            self._kill_running()

    def _begin_stop(self) -> None:
        self._stop_deadline = time.monotonic() + self._stop_grace_s
        first = {spec.name for spec in self._specs if not spec.stops_last}
        self._signal_running(signal.SIGTERM, only=first)
        self._next_wave()

    def _next_wave(self) -> None:
        """SIGTERM the ``stops_last`` services once every other one is gone."""
        if self._last_wave_sent:
            return
        last = {spec.name for spec in self._specs if spec.stops_last}
        if self._running - last:
            return
        self._last_wave_sent = True
        self._signal_running(signal.SIGTERM, only=last)

    def _kill_running(self) -> None:
        self._killed = True
        self._stop_deadline = time.monotonic() + KILL_WAIT_S
        self._signal_running(signal.SIGKILL)

    def _signal_running(self, signum: int, *, only: set[str] | None = None) -> None:
        """Signal each live child's process group (the child and anything it started)."""
        for name in self._running:
            if only is not None and name not in only:
                continue
            child = self._children[name]
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signum)

    def _fail(self, code: int) -> None:
        if self._exit_code == 0:
            self._exit_code = code

    def _names(self) -> str:
        return ", ".join(sorted(self._running))

    def _say(self, message: str) -> None:
        print(f"promethean dev: {message}", file=self._err, flush=True)
